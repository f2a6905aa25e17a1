import { test } from 'node:test';
import assert from 'node:assert/strict';
import { address, block, contains, formatCidr, nodeBlockPrefix, nodeBlocks, overlaps, parseCidr, tryParseCidr } from './cidr.js';

const c = (t: string) => parseCidr(t, '--x');

test('CIDRs parse, print, overlap and contain; host bits set are refused with the network meant', () => {
  assert.equal(formatCidr(c('10.244.0.0/16')), '10.244.0.0/16');
  assert.equal(tryParseCidr('10.244.0.1/16'), undefined);
  assert.equal(tryParseCidr('10.244.0.0'), undefined);
  assert.equal(tryParseCidr('300.1.1.0/24'), undefined);
  assert.throws(() => c('10.244.0.1/16'), /--x 10\.244\.0\.1\/16 has host bits set; did you mean 10\.244\.0\.0\/16\?/);
  assert.throws(() => c('ten/8'), /--x "ten\/8" is not an IPv4 CIDR/);
  assert.ok(overlaps(c('10.244.0.0/16'), c('10.244.7.0/24')));
  assert.ok(!overlaps(c('10.244.0.0/16'), c('10.245.0.0/16')));
  assert.ok(contains(c('10.0.0.0/8'), c('10.244.0.0/16')));
  assert.ok(!contains(c('10.244.0.0/16'), c('10.0.0.0/8')));
});

test('nodes get /24s of a large pod range, and the smallest block that holds their pods of a /24 or smaller', () => {
  assert.equal(formatCidr(block(c('10.244.0.0/16'), 24, 3)), '10.244.3.0/24');
  assert.equal(address(c('10.224.7.0/24'), 4), '10.224.7.4');
  assert.equal(nodeBlockPrefix(c('10.244.0.0/16'), 110), 24);
  assert.equal(nodeBlocks(c('10.244.0.0/16'), 110), 256);
  assert.equal(nodeBlockPrefix(c('10.30.0.0/24'), 110), 25, '110 pods + gateway, network, broadcast need 128 addresses');
  assert.equal(nodeBlocks(c('10.30.0.0/24'), 110), 2);
  assert.equal(nodeBlocks(c('10.30.0.0/24'), 30), 4);
  assert.equal(nodeBlocks(c('10.30.0.0/26'), 110), 0);
  assert.throws(() => block(c('10.30.0.0/24'), 25, 2), /has no block 2 of \/25/);
});
