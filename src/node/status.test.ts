import { test } from 'node:test';
import assert from 'node:assert/strict';
import { containerStatus, podPhase, podStatus, type ContainerView, type Instance, type PodView } from './status.js';
import type { PodSpec } from '../kube/index.js';

const spec = (restartPolicy: PodSpec['restartPolicy'] = 'Always'): PodSpec =>
  ({ containers: [{ name: 'a', image: 'busybox' }], restartPolicy, terminationGracePeriodSeconds: 30 }) as PodSpec;
const inst = (over: Partial<Instance>): Instance => ({
  id: 'c1', attempt: 0, state: 'running', startedAt: 1.7e18, finishedAt: 0, exitCode: 0, reason: '', message: '', imageRef: 'sha256:x', ...over,
});
const view = (v: Partial<ContainerView>): ContainerView => ({ spec: { name: 'a', image: 'busybox' }, restartCount: 0, ready: false, ...v });
const pod = (containers: ContainerView[], restartPolicy: PodSpec['restartPolicy'] = 'Always', init: ContainerView[] = []): PodView =>
  ({ spec: spec(restartPolicy), init, containers, hostIP: '10.0.0.1' });

test('phase follows kubelet: pending until something ran, running while restarts are due, terminal when all ended', () => {
  assert.equal(podPhase(pod([view({})])), 'Pending');
  assert.equal(podPhase(pod([view({ current: inst({}) })])), 'Running');
  const exited1 = inst({ state: 'exited', exitCode: 1, finishedAt: 1.8e18 });
  assert.equal(podPhase(pod([view({ current: exited1, waiting: { reason: 'CrashLoopBackOff' } })])), 'Running');
  assert.equal(podPhase(pod([view({ current: exited1 })], 'Never')), 'Failed');
  assert.equal(podPhase(pod([view({ current: inst({ state: 'exited' }) })], 'OnFailure')), 'Succeeded');
  assert.equal(podPhase(pod([view({ current: inst({}) })], 'Always', [view({ spec: { name: 'i', image: 'x' }, current: inst({}) })])), 'Pending',
    'an init container still running keeps the pod pending');
});

test('a container waiting to restart shows CrashLoopBackOff and the crash as lastState', () => {
  const s = containerStatus(view({ current: inst({ state: 'exited', exitCode: 1 }), restartCount: 2, waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s' } }));
  assert.deepEqual(s['state'], { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s' } });
  assert.equal((s['lastState'] as { terminated: { exitCode: number; reason: string } }).terminated.exitCode, 1);
  assert.equal((s['lastState'] as { terminated: { reason: string } }).terminated.reason, 'Error');
  assert.equal(s['restartCount'], 2);
  assert.equal(s['started'], false);
  assert.equal(s['containerID'], 'containerd://c1');
});

test('conditions keep their transition time while unchanged and carry PodScheduled over', () => {
  const first = podStatus(pod([view({ current: inst({}), ready: true })]), { conditions: [{ type: 'PodScheduled', status: 'True', lastTransitionTime: 'then' }], qosClass: 'BestEffort' });
  const ready = (first['conditions'] as { type: string; lastTransitionTime: string }[]).find((c) => c.type === 'Ready');
  const again = podStatus(pod([view({ current: inst({}), ready: true })]), first);
  assert.equal((again['conditions'] as { type: string; lastTransitionTime: string }[]).find((c) => c.type === 'Ready')?.lastTransitionTime, ready?.lastTransitionTime);
  assert.deepEqual((first['conditions'] as { type: string }[]).map((c) => c.type), ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled']);
  assert.equal(first['qosClass'], 'BestEffort');
  assert.equal(first['phase'], 'Running');
});

test('a container counts as ready only while it runs: Ready never precedes the running state', () => {
  const created = podStatus(pod([view({ current: inst({ state: 'created' }), ready: true })]), {});
  assert.equal((created['conditions'] as { type: string; status: string }[]).find((c) => c.type === 'Ready')?.status, 'False');
  assert.equal((created['containerStatuses'] as { ready: boolean }[])[0]?.ready, false);
  const waiting = podStatus(pod([view({ current: inst({}), ready: true, waiting: { reason: 'CrashLoopBackOff' } })]), {});
  assert.equal((waiting['containerStatuses'] as { ready: boolean }[])[0]?.ready, false);
  const running = podStatus(pod([view({ current: inst({}), ready: true })]), {});
  assert.equal(running['phase'], 'Running');
  assert.equal((running['conditions'] as { type: string; status: string }[]).find((c) => c.type === 'Ready')?.status, 'True');
});

test('readiness gates hold Ready back until their condition is True', () => {
  const gated: PodView = { ...pod([view({ current: inst({}), ready: true })]), spec: { ...spec(), readinessGates: [{ conditionType: 'example.com/lb' }] } };
  const closed = podStatus(gated, {});
  const cond = (st: Record<string, unknown>, t: string): Record<string, unknown> | undefined => (st['conditions'] as Record<string, unknown>[]).find((c) => c['type'] === t);
  assert.equal(cond(closed, 'Ready')?.['status'], 'False');
  assert.equal(cond(closed, 'Ready')?.['reason'], 'ReadinessGatesNotReady');
  const open = podStatus(gated, { conditions: [{ type: 'example.com/lb', status: 'True' }] });
  assert.equal(cond(open, 'Ready')?.['status'], 'True');
  assert.equal(cond(open, 'example.com/lb')?.['status'], 'True', 'the gate condition set by another component is kept');
});

test('a sidecar init container counts as initialized once running and started, and never decides the phase', () => {
  const sidecar = { name: 's', image: 'x', restartPolicy: 'Always' };
  const p = (s: Partial<ContainerView>, app: Partial<ContainerView>): PodView => pod([view(app)], 'Never', [view({ spec: sidecar, ...s })]);
  assert.equal(podPhase(p({ current: inst({ id: 's1' }), started: false }, {})), 'Pending');
  assert.equal(podPhase(p({ current: inst({ id: 's1' }), started: true }, { current: inst({}) })), 'Running');
  assert.equal(podPhase(p({ current: inst({ id: 's1' }), started: true }, { current: inst({ state: 'exited', exitCode: 0 }) })), 'Succeeded');
});
