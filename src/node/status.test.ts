import { test } from 'node:test';
import assert from 'node:assert/strict';
import { containerStatus, podPhase, podStatus, type ContainerView, type Instance, type PodView } from './status.js';
import type { PodSpec } from './pod-spec.js';

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
  assert.deepEqual((first['conditions'] as { type: string }[]).map((c) => c.type), ['Initialized', 'Ready', 'ContainersReady', 'PodScheduled']);
  assert.equal(first['qosClass'], 'BestEffort');
  assert.equal(first['phase'], 'Running');
});
