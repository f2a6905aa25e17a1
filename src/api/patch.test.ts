import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mergePatch, strategicMerge, applyJsonPatch, patchTypeOf } from './patch.js';

test('JSON merge patch deletes with null and replaces lists', () => {
  assert.deepEqual(mergePatch({ a: 1, b: { c: 2, d: 3 }, l: [1] }, { b: { c: null }, l: [2] }), { a: 1, b: { d: 3 }, l: [2] });
});

test('strategic merge patch merges containers by name and honours directives', () => {
  const pod = { spec: { containers: [{ name: 'a', image: 'x:1' }, { name: 'b', image: 'y:1' }], tolerations: [{ key: 'k' }] } };
  const out = strategicMerge(pod, {
    metadata: { labels: { app: 'web' } },
    spec: {
      '$setElementOrder/containers': [{ name: 'b' }, { name: 'a' }],
      containers: [{ name: 'a', image: 'x:2' }],
      tolerations: [{ key: 'j' }],
    },
  }) as { spec: { containers: Array<{ name: string; image: string }>; tolerations: unknown[] }; metadata: unknown };
  assert.deepEqual(out.spec.containers, [{ name: 'b', image: 'y:1' }, { name: 'a', image: 'x:2' }]);
  assert.deepEqual(out.spec.tolerations, [{ key: 'j' }]);
  assert.deepEqual(out.metadata, { labels: { app: 'web' } });
  const deleted = strategicMerge(pod, { spec: { containers: [{ name: 'b', $patch: 'delete' }] } }) as typeof pod;
  assert.deepEqual(deleted.spec.containers.map((c) => c.name), ['a']);
  const nulls = strategicMerge({ metadata: { labels: { a: '1', b: '2' } } }, { metadata: { labels: { a: null } } });
  assert.deepEqual(nulls, { metadata: { labels: { b: '2' } } });
});

test('JSON patch applies operations and reports bad ones', () => {
  assert.deepEqual(applyJsonPatch({ a: 1 }, [{ op: 'add', path: '/b', value: 2 }]), { a: 1, b: 2 });
  assert.throws(() => applyJsonPatch({ a: 1 }, [{ op: 'test', path: '/a', value: 2 }]), /could not be applied/);
});

test('content types name the patch flavour', () => {
  assert.equal(patchTypeOf('application/strategic-merge-patch+json; charset=utf-8'), 'strategic');
  assert.equal(patchTypeOf('application/apply-patch+yaml'), 'apply');
  assert.equal(patchTypeOf('text/plain'), undefined);
});
