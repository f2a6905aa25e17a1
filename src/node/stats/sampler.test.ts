import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Container, ContainerStats, PodSandbox } from '../../cri/index.js';
import { statsSummarySchema } from '../../kube/index.js';
import { createLogger, nullSink } from '../../log.js';
import { FakeProcFs } from './fake-proc.js';
import { StatsSampler } from './sampler.js';

const vmPod = 'aa11bb22cc33dd44ee55ff66778899aabbccddeeff00112233445566778899aa';
const plainPod = '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';
const T0 = Date.parse('2026-01-01T00:00:00Z');
const ms = (t: number): number => t * 1e6;

const sandbox = (id: string, name: string): PodSandbox => ({
  id, metadata: { name, namespace: 'default', uid: `uid-${name}`, attempt: 0 }, state: 'SANDBOX_READY', created_at: ms(T0 - 60_000),
  labels: {}, annotations: {}, runtime_handler: '',
});
const container = (id: string, sandboxId: string, name: string, state: Container['state'] = 'CONTAINER_RUNNING'): Container => ({
  id, pod_sandbox_id: sandboxId, metadata: { name, attempt: 0 }, image: null, image_ref: '', state, created_at: ms(T0 - 50_000), labels: {}, annotations: {},
});

/** A node with a VM pod (one busy container), a plain pod (an idle container and an exited one) and a clock. */
function node(): { sampler: StatsSampler; proc: FakeProcFs; advance(seconds: number, cpu: { busy: number; idle: number; host: number; qemu: number; shim: number }): void } {
  let now = T0;
  const cpuNs = { busy: 0, idle: 0 };
  const stats = (id: string, name: string, used: number, workingSet: number): ContainerStats => ({
    attributes: { id, metadata: { name, attempt: 0 }, labels: {}, annotations: {} },
    cpu: { timestamp: ms(now), usage_core_nano_seconds: { value: used }, usage_nano_cores: null },
    memory: { timestamp: ms(now), working_set_bytes: { value: workingSet }, available_bytes: null, usage_bytes: { value: workingSet + 4096 }, rss_bytes: null, page_faults: null, major_page_faults: null },
    writable_layer: null,
  });
  const cri = {
    listPodSandbox: async () => ({ items: [sandbox(vmPod, 'vm'), sandbox(plainPod, 'plain')] }),
    listContainers: async () => ({ containers: [container('c-busy', vmPod, 'busy'), container('c-idle', plainPod, 'idle')] }),
    listContainerStats: async () => ({
      stats: [
        stats('c-busy', 'busy', cpuNs.busy, 3 * 2 ** 20),
        stats('c-idle', 'idle', cpuNs.idle, 2 ** 20),
        { attributes: { id: 'c-old', metadata: { name: 'old', attempt: 0 }, labels: {}, annotations: {} }, cpu: null, memory: null, writable_layer: null },
      ],
    }),
  };
  const proc = new FakeProcFs();
  let hostTicks = 0;
  const setHost = (): void => {
    proc.files.set('stat', `cpu  ${hostTicks} 0 0 99999 0 0 0 0 0 0\nbtime ${T0 / 1000 - 3600}\n`);
  };
  setHost();
  proc.files.set('meminfo', 'MemTotal: 8000000 kB\nMemFree: 6000000 kB\nMemAvailable: 7000000 kB\nInactive(file): 500000 kB\n');
  // The shim starts first, so /proc lists it first; the summary lists QEMU first all the same.
  proc.processes.set(90, { argv: ['/usr/bin/node', '/r/dist/src/shim/main.js', '-id', vmPod, '-socket', '/s'], ticks: 0, startTicks: 6, rssKb: 60_000, pssKb: 50_000 });
  proc.processes.set(100, { argv: ['qemu-system-x86_64', '-name', `sandpod-${vmPod.slice(0, 24)}`], ticks: 0, startTicks: 7, rssKb: 300_000, pssKb: 200_000 });
  const sampler = new StatsSampler({ cri, proc, nodeName: 'n1', log: createLogger('test', nullSink), now: () => now });
  return {
    sampler, proc,
    advance: (seconds, cpu) => {
      now += seconds * 1000;
      cpuNs.busy += cpu.busy * seconds * 1e9;
      cpuNs.idle += cpu.idle * seconds * 1e9;
      hostTicks += cpu.host * seconds * 100;
      setHost();
      for (const [pid, cores] of [[100, cpu.qemu], [90, cpu.shim]] as const) {
        const p = proc.processes.get(pid);
        if (p) p.ticks += cores * seconds * 100;
      }
    },
  };
}

test('after one round the summary has what was read but no rates; after two, rates over the interval', async () => {
  const n = node();
  await n.sampler.sample();
  const first = statsSummarySchema.parse(n.sampler.summary());
  assert.equal(first.node.cpu?.usageNanoCores, undefined);
  assert.equal(first.pods.find((p) => p.podRef.name === 'vm')?.containers[0]?.cpu?.usageNanoCores, undefined);
  assert.equal(first.pods.find((p) => p.podRef.name === 'vm')?.containers[0]?.memory?.workingSetBytes, 3 * 2 ** 20);

  n.advance(10, { busy: 1, idle: 0.002, host: 1.5, qemu: 1.1, shim: 0.05 });
  await n.sampler.sample();
  const summary = n.sampler.summary();
  assert.deepEqual(statsSummarySchema.parse(summary), summary, 'the summary is what the API server\'s schema reads');
  assert.equal(summary.node.nodeName, 'n1');
  assert.equal(summary.node.startTime, new Date(T0 - 3_600_000).toISOString());
  assert.equal(summary.node.cpu?.usageNanoCores, 1_500_000_000);
  assert.equal(summary.node.cpu?.windowSeconds, 10);
  assert.equal(summary.node.memory?.workingSetBytes, (8_000_000 - 6_000_000 - 500_000) * 1024);

  const vm = summary.pods.find((p) => p.podRef.name === 'vm');
  assert.deepEqual(vm?.podRef, { name: 'vm', namespace: 'default', uid: 'uid-vm' });
  assert.deepEqual(vm?.containers.map((c) => [c.name, c.cpu?.usageNanoCores, c.cpu?.windowSeconds, c.cpu?.time]), [['busy', 1e9, 10, new Date(T0 + 10_000).toISOString()]]);
  assert.deepEqual(vm?.vm?.processes.map((p) => [p.role, p.pid, p.cpu?.usageNanoCores, p.memory?.pssBytes, p.memory?.rssBytes]), [
    ['qemu', 100, 1_100_000_000, 200_000 * 1024, 300_000 * 1024],
    ['shim', 90, 50_000_000, 50_000 * 1024, 60_000 * 1024],
  ]);
  assert.equal(vm?.vm?.cpu?.usageNanoCores, 1_150_000_000, 'QEMU + shim');
  assert.equal(vm?.vm?.memory?.pssBytes, 250_000 * 1024);
  assert.equal(vm?.vm?.memory?.rssBytes, 360_000 * 1024);

  const plain = summary.pods.find((p) => p.podRef.name === 'plain');
  assert.deepEqual(plain?.containers.map((c) => [c.name, c.cpu?.usageNanoCores]), [['idle', 2_000_000]], 'the exited container is not reported');
  assert.equal(plain?.vm, undefined, 'a plain pod has no VM');
});

test('a VM process that goes away drops out of the list and of the sums', async () => {
  const n = node();
  await n.sampler.sample();
  n.advance(10, { busy: 1, idle: 0, host: 1, qemu: 1, shim: 0.1 });
  await n.sampler.sample();
  n.proc.processes.delete(90);
  n.advance(10, { busy: 1, idle: 0, host: 1, qemu: 1, shim: 0 });
  await n.sampler.sample();
  const vm = n.sampler.summary().pods.find((p) => p.podRef.name === 'vm')?.vm;
  assert.deepEqual(vm?.processes.map((p) => p.role), ['qemu']);
  assert.equal(vm?.cpu?.usageNanoCores, 1e9, 'the shim is gone from the list, so the sum is QEMU alone');
});
