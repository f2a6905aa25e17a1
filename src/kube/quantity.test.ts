import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseQuantity, formatBytes, formatNanoCores, addResources } from './quantity.js';

test('parses decimal, binary and exponent quantities', () => {
  assert.equal(parseQuantity('500m'), 0.5);
  assert.equal(parseQuantity('1Gi'), 2 ** 30);
  assert.equal(parseQuantity('2'), 2);
  assert.equal(parseQuantity('1.5k'), 1500);
  assert.equal(parseQuantity('2e3'), 2000);
  assert.equal(parseQuantity('-1'), -1);
});

test('rejects malformed quantities', () => {
  for (const bad of ['', 'abc', '1GG', '1 Gi', 'Gi', '1.2.3']) assert.equal(parseQuantity(bad), undefined, bad);
});

test('formats bytes and adds resource lists', () => {
  assert.equal(formatBytes(512 * 2 ** 20), '512Mi');
  assert.deepEqual(addResources({ cpu: 1 }, { cpu: 0.5, memory: 2 }), { cpu: 1.5, memory: 2 });
});

test('nanocores are written as Kubernetes writes a scale -9 quantity: exact, under the largest decimal suffix', () => {
  assert.equal(formatNanoCores(0), '0');
  assert.equal(formatNanoCores(123_456_789), '123456789n');
  assert.equal(formatNanoCores(1_500_000_000), '1500m');
  assert.equal(formatNanoCores(1_000_000_000), '1');
  assert.equal(formatNanoCores(250_000), '250u');
  assert.equal(formatNanoCores(2_000_000_000_000), '2k');
  assert.equal(formatNanoCores(12.6), '13n', 'whole nanocores');
  assert.ok(Math.abs((parseQuantity(formatNanoCores(987_654_321)) ?? 0) - 0.987654321) < 1e-12, 'reads back as cores');
});
