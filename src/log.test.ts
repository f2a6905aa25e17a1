import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, fileSink } from './log.js';

test('a log file is bounded: past its size it moves to .1 and starts again', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sandpod-log-'));
  try {
    const file = join(dir, 'd.log');
    const log = createLogger('test', fileSink(file, 1000), 'info');
    for (let i = 0; i < 50; i++) log.info('line', { i, pad: 'x'.repeat(40) });
    assert.ok(statSync(file).size <= 1000);
    assert.ok(statSync(`${file}.1`).size <= 1000);
    const last = readFileSync(file, 'utf8').trim().split('\n').pop() ?? '';
    assert.equal(JSON.parse(last).i, 49, 'the newest lines are in the live file');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
