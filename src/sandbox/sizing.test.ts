import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_MEMORY_MIB, parseCpus, parseMemory, vmSize } from './sizing.js';

test('cpu limits round up to whole vCPUs', () => {
  assert.equal(parseCpus('2', 'x'), 2);
  assert.equal(parseCpus('1.5', 'x'), 2);
  assert.equal(parseCpus('500m', 'x'), 1);
  assert.equal(parseCpus('2000m', 'x'), 2);
  assert.throws(() => parseCpus('0', 'x'), /more than 0/);
  assert.throws(() => parseCpus('-1', 'x'), /not a quantity/);
});

test('memory quantities in binary and decimal units', () => {
  assert.equal(parseMemory('256Mi', 'x'), 256 * 2 ** 20);
  assert.equal(parseMemory('1G', 'x'), 1e9);
  assert.equal(parseMemory('1024', 'x'), 1024);
  assert.throws(() => parseMemory('12XB', 'x'), /not a quantity/);
});

test('a sandbox gets 512Mi by default and refuses memory too small to boot', () => {
  assert.deepEqual(vmSize(undefined, undefined, 'x'), { cpus: 1, memoryMiB: DEFAULT_MEMORY_MIB });
  assert.deepEqual(vmSize('2', '256Mi', 'x'), { cpus: 2, memoryMiB: 256 });
  assert.throws(() => vmSize('1', '16Mi', 'sandbox/a'), (e: Error) => /too small to boot/.test(e.message));
});
