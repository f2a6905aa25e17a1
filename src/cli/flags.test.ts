import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { checkFlags, parseFlags, reportIgnored, type FlagSet } from './flags.js';

const flags: FlagSet = {
  name: { type: 'string', short: 'n' },
  'node-count': { type: 'string', short: 'c' },
  labels: { type: 'list' },
  yes: { type: 'boolean', short: 'y' },
  'generate-ssh-keys': { type: 'boolean', ignored: 'no SSH here' },
  location: { type: 'string', short: 'l', ignored: 'one machine' },
};

test('az-style flags: long, short, =value, lists of words, booleans; ignored flags reported once with their reason', () => {
  const p = parseFlags('create', ['--name', 'c1', '-c=2', '--labels', 'a=b', 'c=d', '--labels', 'e=f', '-y', '--generate-ssh-keys', '-l', 'westus', '--generate-ssh-keys'], flags);
  assert.deepEqual(p.values, { name: 'c1', 'node-count': '2', labels: ['a=b', 'c=d', 'e=f'], yes: true });
  assert.deepEqual(p.ignored.map((i) => i.flag), ['--generate-ssh-keys', '--location']);
  const out: string[] = [];
  reportIgnored('create', p, (l) => out.push(l));
  assert.deepEqual(out, ['sandpod create: ignoring --generate-ssh-keys: no SSH here\n', 'sandpod create: ignoring --location: one machine\n']);
});

test('unknown flags, missing values and repeated single flags are usage errors', () => {
  assert.throws(() => parseFlags('create', ['--nmae', 'x'], flags), /sandpod create: unknown flag --nmae; did you mean --name\?/);
  assert.throws(() => parseFlags('create', ['--query', 'x'], flags), /unknown flag --query\. See 'sandpod create --help'/);
  assert.throws(() => parseFlags('create', ['--name'], flags), /--name needs a value/);
  assert.throws(() => parseFlags('create', ['--name', 'a', '--name', 'b'], flags), /--name is given twice/);
  assert.throws(() => parseFlags('create', ['--yes=maybe'], flags), /--yes takes no value/);
});

test('values are typed by the command\'s schema; a bad one names its flag', () => {
  const schema = z.object({ name: z.string(), 'node-count': z.string().regex(/^\d+$/, 'must be a whole number').transform(Number).optional() }).strict();
  assert.deepEqual(checkFlags('create', schema, { name: 'c1', 'node-count': '3' }), { name: 'c1', 'node-count': 3 });
  assert.throws(() => checkFlags('create', schema, { name: 'c1', 'node-count': 'three' }), /sandpod create: --node-count: must be a whole number/);
});
