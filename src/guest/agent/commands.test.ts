import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { script } from './commands.js';

test('batched commands keep every argument intact and stop at the first failure', () => {
  const s = script([['echo', "it's", 'a b'], ['printf', '%s\\n', '$HOME;`x`'], ['false'], ['echo', 'never']]);
  let out = '';
  assert.throws(() => { out = execFileSync('sh', ['-c', s], { encoding: 'utf8' }); });
  const partial = (() => { try { return execFileSync('sh', ['-c', s.replace("'false'", "'true'")], { encoding: 'utf8' }); } catch { return ''; } })();
  assert.equal(partial, "it's a b\n$HOME;`x`\nnever\n");
  assert.equal(out, '');
});
