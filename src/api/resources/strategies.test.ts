/** The per-resource rules the registry used to hold: pod admission, deletion in two steps, binding. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSandpodError } from '../../errors.js';
import type { KubeObject } from '../../kube/index.js';
import { defaultRuntimeClasses } from '../admission.js';
import { statusFor } from '../status.js';
import { fakeHooks } from './fake-hooks.js';
import { namespaces } from './namespaces.js';
import { bindPod, pods } from './pods.js';
import { runtimeClasses } from './runtimeclasses.js';
import { serviceAccounts } from './serviceaccounts.js';

const now = new Date('2026-03-01T10:00:00Z');
const pod = (spec: Record<string, unknown>, extra: Partial<KubeObject> = {}): KubeObject =>
  ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default' }, spec: { containers: [{ name: 'c', image: 'x' }], ...spec }, ...extra });

test('a pod bound to a node is marked for its node to stop; unscheduled, finished and grace-0 pods go at once', () => {
  const bound = pods.prepareForDelete!(pod({ nodeName: 'n1', terminationGracePeriodSeconds: 10 }), {}, now);
  assert.deepEqual([bound?.metadata.deletionTimestamp, bound?.metadata.deletionGracePeriodSeconds], ['2026-03-01T10:00:10Z', 10]);
  assert.equal(pods.prepareForDelete!(pod({}), {}, now), undefined);
  assert.equal(pods.prepareForDelete!(pod({ nodeName: 'n1' }), { gracePeriodSeconds: 0 }, now), undefined);
  assert.equal(pods.prepareForDelete!(pod({ nodeName: 'n1' }, { status: { phase: 'Succeeded' } }), {}, now), undefined);
  const shorter = pods.prepareForDelete!(bound!, { gracePeriodSeconds: 2 }, now);
  assert.equal(shorter?.metadata.deletionGracePeriodSeconds, 2, 'a second delete may shorten the grace period');
  assert.equal(pods.prepareForDelete!(shorter!, { gracePeriodSeconds: 5 }, now)?.metadata.deletionGracePeriodSeconds, 2, 'but not lengthen it');
});

test('a namespace with its finalizer terminates instead of going at once; one without goes; the system namespaces refuse deletion', () => {
  const ns = (name: string, finalizers = ['kubernetes']): KubeObject => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name }, spec: { finalizers }, status: { phase: 'Active' } });
  const marked = namespaces.prepareForDelete!(ns('team-a'), {}, now);
  assert.deepEqual([marked?.metadata.deletionTimestamp, marked?.['status']], ['2026-03-01T10:00:00Z', { phase: 'Terminating' }]);
  assert.equal(namespaces.prepareForDelete!(ns('bare', []), {}, now), undefined);
  assert.throws(() => namespaces.prepareForDelete!(ns('kube-system'), {}, now),
    (err) => statusFor(err).code === 403 && statusFor(err).message === 'namespaces "kube-system" is forbidden: this namespace may not be deleted');
});

test('namespace finalizers: set on create, kept by a main update, changed only through finalize, which removes a terminating namespace once none is left', () => {
  const created: KubeObject = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-a' }, spec: { finalizers: ['example.com/mine'] } };
  namespaces.prepareForCreate!(created);
  assert.deepEqual(created['spec'], { finalizers: ['example.com/mine', 'kubernetes'] });
  const edited: KubeObject = { ...created, metadata: { name: 'team-a', labels: { a: 'b' } }, spec: {} };
  namespaces.prepareForUpdate!(edited, created);
  assert.deepEqual(edited['spec'], { finalizers: ['example.com/mine', 'kubernetes'] }, 'a main update keeps the finalizers');
  const terminating: KubeObject = { ...created, metadata: { name: 'team-a', deletionTimestamp: '2026-03-01T10:00:00Z' }, status: { phase: 'Terminating' } };
  const finalize = namespaces.subresources.find((s) => s.name === 'finalize')!.merge!;
  const once = finalize(terminating, { ...terminating, metadata: { name: 'team-a', labels: { ignored: 'yes' } }, spec: { finalizers: ['example.com/mine'] }, status: { phase: 'Active' } });
  assert.deepEqual([once.metadata.labels, once['spec'], once['status']], [undefined, { finalizers: ['example.com/mine'] }, { phase: 'Terminating' }], 'finalize changes only spec.finalizers');
  assert.equal(namespaces.removeWhenUpdated!(once), false, 'another finalizer is left');
  const twice = finalize(once, { ...once, spec: { finalizers: [] } });
  assert.equal(namespaces.removeWhenUpdated!(twice), true);
  assert.equal(namespaces.removeWhenUpdated!({ ...twice, metadata: { ...twice.metadata, finalizers: ['orphan'] } }), false, 'metadata.finalizers hold it too');
  assert.equal(namespaces.removeWhenUpdated!({ ...twice, metadata: { name: 'team-a' } }), false, 'an active namespace is never removed by an update');
});

test('binding sets the node and the PodScheduled condition in one object, and refuses a bound or deleted pod', () => {
  const bound = bindPod(pod({}, { status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }] } }), 'n1', now);
  assert.equal((bound['spec'] as { nodeName?: string }).nodeName, 'n1');
  assert.deepEqual((bound['status'] as { conditions: unknown[] }).conditions, [{ type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: '2026-03-01T10:00:00Z' }]);
  assert.throws(() => bindPod(bound, 'n2', now), (err) => isSandpodError(err, 'Conflict') && /already assigned to node "n1"/.test(err.message));
  assert.throws(() => bindPod(pod({}, { metadata: { name: 'p', deletionTimestamp: 'x' } }), 'n1', now), (err) => isSandpodError(err, 'Conflict'));
});

test('pod admission looks up through the hook context: a missing ServiceAccount or RuntimeClass is 403, a known class copies its overhead', async () => {
  const ctx = fakeHooks();
  for (const rc of defaultRuntimeClasses()) ctx.put(runtimeClasses, rc);
  await assert.rejects(pods.admit!(pod({}), ctx), (err) => statusFor(err).code === 403 && /serviceaccount "default" not found/.test(err instanceof Error ? err.message : ''));
  ctx.put(serviceAccounts, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: 'default' } });
  await assert.rejects(pods.admit!(pod({ runtimeClassName: 'gvisor' }), ctx), (err) => statusFor(err).code === 403 && /RuntimeClass "gvisor" not found/.test(err instanceof Error ? err.message : ''));
  const vm = pod({ runtimeClassName: 'kata-vm-isolation' });
  await pods.admit!(vm, ctx);
  assert.deepEqual((vm['spec'] as { overhead?: unknown }).overhead, { cpu: '10m', memory: '200Mi' });
});
