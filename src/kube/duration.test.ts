import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration } from './duration.js';

test('durations are written as Go writes a time.Duration', () => {
  assert.equal(formatDuration(0), '0s');
  assert.equal(formatDuration(10_062_000_000), '10.062s');
  assert.equal(formatDuration(15e9), '15s');
  assert.equal(formatDuration(90e9), '1m30s');
  assert.equal(formatDuration(120e9), '2m0s');
  assert.equal(formatDuration(3600e9 + 0.5e9), '1h0m0.5s');
  assert.equal(formatDuration(250e6), '250ms');
  assert.equal(formatDuration(1_500_000), '1.5ms');
  assert.equal(formatDuration(2_500), '2.5µs');
  assert.equal(formatDuration(42), '42ns');
  assert.equal(formatDuration(-2e9), '-2s');
});
