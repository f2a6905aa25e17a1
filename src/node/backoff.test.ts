import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff, BACKOFF_RESET_AFTER_MS } from './backoff.js';

test('restart delays double from 10 s up to 5 min, and reset after a long run', () => {
  const b = new Backoff();
  const delays = [0, 1, 2, 3, 4, 5, 6].map((i) => b.crashed(i * 1000, 1000));
  assert.deepEqual(delays, [10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000]);
  assert.equal(b.remaining(6000), 300_000);
  assert.equal(b.remaining(6000 + 300_000), 0);
  assert.equal(b.crashed(0, BACKOFF_RESET_AFTER_MS), 10_000);
});
