import { test } from 'node:test';
import assert from 'node:assert/strict';
import { capabilityMask } from './capabilities.js';

test('capability names become the kernel bit mask', () => {
  assert.equal(capabilityMask([]), '0');
  assert.equal(capabilityMask(['CAP_CHOWN']), '1');
  assert.equal(capabilityMask(['CAP_NET_ADMIN', 'CAP_NET_RAW']), '3000');
  assert.equal(capabilityMask(['CAP_CHECKPOINT_RESTORE']), '10000000000');
  assert.throws(() => capabilityMask(['CAP_FLY']), /unknown capability CAP_FLY/);
});
