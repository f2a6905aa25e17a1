import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../kube/index.js';
import { base64ErrorOffset, base64Value, checkImmutableUpdate } from './data-maps.js';

test('base64 is checked like Go decodes []byte, with its offsets', () => {
  for (const ok of ['', 'c2VjcmV0', 'YQ==', 'YWI=', 'YWJj', 'YW\nJj', 'YQ==\n', '+/+/']) assert.equal(base64ErrorOffset(ok), undefined, ok);
  assert.equal(base64ErrorOffset('secret'), 4, 'an unfinished quantum is reported where it starts');
  assert.equal(base64ErrorOffset('YWJjZ'), 4);
  assert.equal(base64ErrorOffset('YQ'), 0, 'padding is required');
  assert.equal(base64ErrorOffset('YQ='), 3, 'half the padding');
  assert.equal(base64ErrorOffset('Y==='), 1, 'padding too early');
  assert.equal(base64ErrorOffset('YQ==YQ=='), 4, 'nothing may follow the padding');
  assert.equal(base64ErrorOffset('ab!d'), 2);
  assert.equal(base64ErrorOffset('YWJj-_'), 4, 'the URL alphabet is not the standard one');
  assert.equal(base64ErrorOffset('é123'), 0);
});

test('the schema reports the offset and never the value', () => {
  const r = base64Value.safeParse('hunter2');
  assert.equal(r.success, false);
  assert.equal(r.error?.issues[0]?.message, 'illegal base64 data at input byte 4');
});

test('immutable objects keep their data, however the maps are spelled', () => {
  const obj = (extra: Record<string, unknown>): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, ...extra });
  const old = obj({ immutable: true, data: { a: '1', b: '2' } });
  assert.deepEqual(checkImmutableUpdate(obj({ immutable: true, data: { b: '2', a: '1' }, binaryData: {} }), old, ['data', 'binaryData']), []);
  assert.deepEqual(checkImmutableUpdate(obj({ immutable: true, data: { a: '1' } }), old, ['data', 'binaryData']).map((e) => `${e.field}: ${e.detail}`),
    ['data: Forbidden: field is immutable when `immutable` is set']);
  assert.deepEqual(checkImmutableUpdate(obj({ data: { a: '1', b: '2' } }), old, ['data']).map((e) => e.field), ['immutable']);
  assert.deepEqual(checkImmutableUpdate(obj({ data: { a: 'x' } }), obj({ data: { a: '1' } }), ['data']), [], 'mutable objects change freely');
});
