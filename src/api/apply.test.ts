import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../kube/index.js';
import { applyConfiguration, fieldSet, recordApply } from './apply.js';

const config = (labels: Record<string, string>, env: Array<{ name: string; value: string }>): Record<string, unknown> => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', labels },
  spec: { containers: [{ name: 'c', image: 'x', env }] },
});

test('field sets follow kube FieldsV1, keyed list items included', () => {
  assert.deepEqual(fieldSet(config({ app: 'a' }, [{ name: 'A', value: '1' }])), {
    'f:metadata': { 'f:labels': { 'f:app': {} } },
    'f:spec': { 'f:containers': { 'k:{"name":"c"}': { '.': {}, 'f:name': {}, 'f:image': {}, 'f:env': { 'k:{"name":"A"}': { '.': {}, 'f:name': {}, 'f:value': {} } } } } },
  });
});

test('re-applying without a field removes what the same manager set, and keeps what others set', () => {
  const first = config({ app: 'a', tier: 'web' }, [{ name: 'A', value: '1' }, { name: 'B', value: '2' }]);
  let obj = recordApply(structuredClone(first) as unknown as KubeObject, 'kubectl', first, 't0');
  obj.metadata.labels = { ...obj.metadata.labels, other: 'kept' };
  obj = applyConfiguration(obj, config({ app: 'b' }, [{ name: 'A', value: '3' }]), 'kubectl', 't1');
  assert.deepEqual(obj.metadata.labels, { app: 'b', other: 'kept' });
  const env = ((obj['spec'] as { containers: Array<{ env: unknown }> }).containers[0]!).env;
  assert.deepEqual(env, [{ name: 'A', value: '3' }]);
  assert.equal((obj.metadata.managedFields as unknown[]).length, 1);
  const other = applyConfiguration(obj, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', annotations: { x: 'y' } } }, 'other-tool', 't2');
  assert.deepEqual(other.metadata.labels, { app: 'b', other: 'kept' });
  assert.equal((other.metadata.managedFields as unknown[]).length, 2);
  const noLabels = applyConfiguration(obj, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'x' }] } }, 'kubectl', 't3');
  assert.deepEqual(noLabels.metadata.labels, { other: 'kept' });
});
