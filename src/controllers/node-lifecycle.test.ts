import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../kube/index.js';
import { createLogger, nullSink } from '../log.js';
import { FakeApi, until } from './fake-api.js';
import { NodeLifecycleController, nodeMonitorGraceMs, planNodeLifecycle } from './node-lifecycle.js';

const now = new Date('2026-03-01T10:00:00Z');
const node = (ready: string | undefined, taints: unknown[] = []): KubeObject => ({
  apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' },
  spec: { taints },
  status: { conditions: [{ type: 'MemoryPressure', status: 'False' }, ...(ready ? [{ type: 'Ready', status: ready }] : [])] },
});
const lease = (renewTime: Date): KubeObject => ({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'n1' }, spec: { renewTime: renewTime.toISOString() } });
const ago = (ms: number): Date => new Date(now.getTime() - ms);

test('a Ready node whose Lease expired is marked Ready=Unknown and tainted unreachable; one that renews is looked at again when it would expire', () => {
  const expired = planNodeLifecycle(node('True'), lease(ago(41_000)), now);
  const conditions = (expired.status?.['status'] as { conditions: Array<Record<string, unknown>> }).conditions;
  assert.deepEqual(conditions.map((c) => `${String(c['type'])}=${String(c['status'])}`), ['MemoryPressure=False', 'Ready=Unknown']);
  assert.deepEqual([conditions[1]!['reason'], conditions[1]!['lastHeartbeatTime'], conditions[1]!['lastTransitionTime']], ['NodeStatusUnknown', '2026-03-01T09:59:19Z', '2026-03-01T10:00:00Z']);
  assert.deepEqual(expired.taints, [{ key: 'node.kubernetes.io/unreachable', effect: 'NoSchedule', timeAdded: '2026-03-01T10:00:00Z' }]);
  assert.deepEqual(expired.changes, ['stopped heartbeating; marked Ready=Unknown', 'added taint node.kubernetes.io/unreachable (Ready=Unknown)']);
  const fresh = planNodeLifecycle(node('True'), lease(ago(10_000)), now);
  assert.deepEqual(fresh, { changes: [], recheckMs: 30_001 });
});

test('each node carries the taint of its Ready condition and only that one; other taints and nodes without a Lease are left as they are', () => {
  const user = { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' };
  assert.deepEqual(planNodeLifecycle(node('False', [user]), undefined, now).taints, [user, { key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule', timeAdded: '2026-03-01T10:00:00Z' }]);
  const back = planNodeLifecycle(node('True', [user, { key: 'node.kubernetes.io/unreachable', effect: 'NoSchedule' }]), lease(ago(1000)), now);
  assert.deepEqual([back.taints, back.changes], [[user], ['removed taint node.kubernetes.io/unreachable (Ready=True)']]);
  assert.deepEqual(planNodeLifecycle(node('True', [user]), undefined, now), { changes: [] }, 'without a Lease a Ready node stays Ready');
  assert.deepEqual(planNodeLifecycle(node(undefined), undefined, now), { changes: [] });
});

test('the controller marks a node whose Lease runs out with no event in between, and untaints it when it is Ready again', async () => {
  const api = new FakeApi();
  api.put('/api/v1/nodes/n1', node('True'));
  api.put('/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1', lease(new Date()));
  const controller = new NodeLifecycleController(api, { log: createLogger('test', nullSink), graceMs: 150 });
  await controller.start();
  const taintsOf = (): string => JSON.stringify((api.find('/api/v1/nodes/n1')?.['spec'] as { taints?: unknown[] }).taints ?? []);
  try {
    await until('the unreachable taint', () => taintsOf().includes('unreachable') || undefined);
    const ready = (api.find('/api/v1/nodes/n1')?.['status'] as { conditions: Array<{ type: string; status: string }> }).conditions.find((c) => c.type === 'Ready');
    assert.equal(ready?.status, 'Unknown');
    assert.deepEqual(api.writes.map((w) => w.split(' ').slice(0, 2).join(' ')), ['PUT /api/v1/nodes/n1/status', 'PUT /api/v1/nodes/n1']);
    // The node agent comes back: renews its Lease (well ahead, so it does not run out again in the test) and reports Ready.
    const current = api.find('/api/v1/nodes/n1')!;
    api.put('/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1', lease(new Date(Date.now() + 60_000)));
    api.put('/api/v1/nodes/n1', { ...current, status: node('True')['status'] });
    await until('the taint to go', () => taintsOf() === '[]' || undefined);
  } finally {
    controller.stop();
  }
});

test('the grace period comes from SANDPOD_NODE_MONITOR_GRACE_SECONDS, whole seconds from 20 to 3600, or is the default', () => {
  assert.equal(nodeMonitorGraceMs({}), undefined);
  assert.equal(nodeMonitorGraceMs({ SANDPOD_NODE_MONITOR_GRACE_SECONDS: '20' }), 20_000);
  for (const bad of ['10', '2.5', 'forty', '-40', '4000']) {
    assert.throws(() => nodeMonitorGraceMs({ SANDPOD_NODE_MONITOR_GRACE_SECONDS: bad }), new RegExp(`"${bad}": give whole seconds from 20`));
  }
});
