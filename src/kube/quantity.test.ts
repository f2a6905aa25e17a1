import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseQuantity, formatBytes, addResources } from './quantity.js';

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
