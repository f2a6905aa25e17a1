import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as tick } from 'node:timers/promises';
import type { Container } from '../kube/index.js';
import { ContainerProber, type ProbeKind, type ProbeVerdict } from './prober.js';

function harness(c: Container, outcomes: Partial<Record<ProbeKind, boolean[]>>) {
  const verdicts: ProbeVerdict[] = [];
  const runs: ProbeKind[] = [];
  const prober = new ContainerProber(c, 0, async (_p, kind) => {
    runs.push(kind);
    const ok = outcomes[kind]?.shift() ?? true;
    return { ok, message: ok ? '' : `${kind} said no` };
  }, (v) => verdicts.push(v));
  const at = async (s: number): Promise<void> => { prober.tick(s * 1000); await tick(); };
  return { prober, verdicts, runs, at };
}

test('the startup probe gates liveness and readiness; failing it restarts the container', async () => {
  const c: Container = { name: 'c', startupProbe: { exec: { command: ['x'] }, periodSeconds: 1, failureThreshold: 2 }, livenessProbe: { exec: { command: ['x'] }, periodSeconds: 1 }, readinessProbe: { exec: { command: ['x'] }, periodSeconds: 1 } };
  const h = harness(c, { Startup: [false, false] });
  assert.equal(h.prober.isStarted, false);
  await h.at(1);
  await h.at(2);
  assert.deepEqual(h.runs, ['Startup', 'Startup']);
  assert.deepEqual(h.verdicts.map((v) => v.restart), [false, true]);
  await h.at(3);
  assert.equal(h.prober.isStarted, true);
  await h.at(4);
  assert.deepEqual(h.runs.slice(3), ['Liveness', 'Readiness']);
  assert.equal(h.prober.isReady, true);
});

test('readiness needs successThreshold successes and drops after failureThreshold failures; delays and periods hold', async () => {
  const c: Container = { name: 'c', readinessProbe: { exec: { command: ['x'] }, initialDelaySeconds: 5, periodSeconds: 10, successThreshold: 2, failureThreshold: 2 } };
  const h = harness(c, { Readiness: [true, true, false, false] });
  await h.at(1);
  assert.deepEqual(h.runs, [], 'not before initialDelaySeconds');
  await h.at(5);
  assert.equal(h.prober.isReady, false, 'one success of two');
  await h.at(10);
  assert.equal(h.runs.length, 1, 'not before periodSeconds');
  await h.at(15);
  assert.equal(h.prober.isReady, true);
  await h.at(25);
  assert.equal(h.prober.isReady, true, 'one failure of two');
  await h.at(35);
  assert.equal(h.prober.isReady, false);
  assert.ok(h.verdicts.every((v) => !v.restart), 'readiness never restarts');
});

test('liveness restarts after failureThreshold failures in a row; a stopped prober reports nothing', async () => {
  const h = harness({ name: 'c', livenessProbe: { exec: { command: ['x'] }, periodSeconds: 1, failureThreshold: 3 } }, { Liveness: [false, true, false, false, false] });
  for (let s = 1; s <= 5; s++) await h.at(s);
  assert.deepEqual(h.verdicts.map((v) => v.restart), [false, false, false, false, true]);
  h.prober.stop();
  await h.at(10);
  assert.equal(h.verdicts.length, 5);
});
