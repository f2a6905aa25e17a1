/**
 * The node agent against the real control plane and a real CRI containerd: a plain pod and a VM pod
 * (runtimeClassName kata-vm-isolation) both reach Running with kubelet-like status, the VM pod on the guest
 * kernel; crash loops back off and restartPolicy Never fails the pod with the exit code; deletion removes the
 * sandbox; a restarted agent adopts running pods without restarting them.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isRecord, type KubeObject } from '../../src/kube/index.js';
import { createLogger } from '../../src/log.js';
import { NodeAgent } from '../../src/node/index.js';
import { BUSYBOX_IMAGE } from '../../src/images/index.js';
import { waitUntil } from '../../src/wait.js';
import { startCriContainerd, stopCriContainerd, type CriTestContext } from './cri-helpers.js';
import { startCluster, type TestCluster } from './harness.js';
import { processesWhere, shimEnvironment } from './helpers.js';

const roots = mkdtempSync(join(tmpdir(), 'sandpod-e2e-node-roots-'));
const NODE = 'node-e2e';
let cri: CriTestContext;
let cluster: TestCluster;
let agent: NodeAgent;

const startAgent = async (): Promise<NodeAgent> => {
  const a = new NodeAgent({
    client: cluster.client, cri: cri.cri, nodeName: NODE, hostIP: '127.0.0.1', streamingPort: 1, logsRoot: join(roots, 'logs'),
    labels: { 'sandpod.io/vm-isolation': 'true' }, log: createLogger('node-agent-test'),
  });
  await a.start();
  return a;
};

// One frame, in order: node:test runs a file's separate before/after hooks without waiting for each other.
before(async () => {
  cri = await startCriContainerd(join(roots, 'cri'), { env: await shimEnvironment(roots) });
  cluster = await startCluster();
  agent = await startAgent();
});
after(async () => {
  await agent?.stop();
  await cluster?.stop();
  const left = cri ? await stopCriContainerd(cri) : [];
  await rm(roots, { recursive: true, force: true });
  assert.deepEqual(left, [], 'the node left nothing behind');
});

const podPath = (name: string): string => `/api/v1/namespaces/default/pods/${name}`;
const status = (p: KubeObject): Record<string, unknown> => (isRecord(p['status']) ? p['status'] : {});
const containerStatus = (p: KubeObject, i = 0): Record<string, unknown> => {
  const list = status(p)['containerStatuses'];
  return Array.isArray(list) && isRecord(list[i]) ? list[i] : {};
};

function pod(name: string, spec: Record<string, unknown>, command: string[], container: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' },
    spec: { terminationGracePeriodSeconds: 5, ...spec, containers: [{ name: 'main', image: BUSYBOX_IMAGE, imagePullPolicy: 'IfNotPresent', command, ...container }] },
  };
}

async function waitPod(name: string, ok: (p: KubeObject) => boolean, what: string, timeoutMs = 90_000): Promise<KubeObject> {
  let last: KubeObject | undefined;
  return waitUntil(async () => {
    last = await cluster.client.get(podPath(name));
    return ok(last) ? last : undefined;
  }, { timeoutMs, intervalMs: 250, onTimeout: () => new Error(`pod ${name} never ${what}: ${JSON.stringify(last?.['status'])}`) });
}

const exec = async (p: KubeObject, cmd: string[]): Promise<string> => {
  const id = String(containerStatus(p)['containerID']).replace('containerd://', '');
  const r = await cri.cri.execSync({ container_id: id, cmd, timeout: 30 });
  return r.stdout.toString();
};

test('a plain pod and a VM pod run side by side, each on its kernel, with kubelet-like status', async () => {
  await cluster.client.create('/api/v1/namespaces/default/pods', pod('plain', {}, ['sleep', '1000']));
  await cluster.client.create('/api/v1/namespaces/default/pods', pod('vm', { runtimeClassName: 'kata-vm-isolation' }, ['sleep', '1000']));
  await cluster.client.create('/api/v1/namespaces/default/pods', pod('vm-sized', { runtimeClassName: 'kata-vm-isolation' }, ['sleep', '1000'],
    // Requests default to limits; on a 2-core node a request of 2 CPUs plus the VM overhead would not fit.
    { resources: { limits: { cpu: '2', memory: '256Mi' }, requests: { cpu: '500m' } } }));
  const running = (p: KubeObject): boolean => status(p)['phase'] === 'Running' && containerStatus(p)['ready'] === true;
  const plain = await waitPod('plain', running, 'ran');
  const vm = await waitPod('vm', running, 'ran', 120_000);
  const sized = await waitPod('vm-sized', running, 'ran', 120_000);
  const memTotalMiB = (text: string): number => Number(/MemTotal:\s+(\d+) kB/.exec(text)?.[1]) / 1024;
  const sizedFacts = await exec(sized, ['sh', '-c', 'nproc; grep MemTotal /proc/meminfo']);
  assert.match(sizedFacts, /^2$/m, 'limits.cpu 2 gives the VM 2 vCPUs');
  assert.ok(memTotalMiB(sizedFacts) <= 256 && memTotalMiB(sizedFacts) > 150, `limits.memory 256Mi sizes the VM (MemTotal ${memTotalMiB(sizedFacts)} MiB)`);
  const defaultMiB = memTotalMiB(await exec(vm, ['grep', 'MemTotal', '/proc/meminfo']));
  assert.ok(defaultMiB > 400 && defaultMiB <= 512, `a VM pod without limits gets a 512Mi VM (MemTotal ${defaultMiB} MiB)`);
  await cluster.client.delete(podPath('vm-sized'));
  for (const p of [plain, vm]) {
    const s = status(p);
    assert.equal(s['hostIP'], '127.0.0.1');
    assert.match(String(s['podIP']), /^10\./);
    assert.ok(s['startTime']);
    const types = (s['conditions'] as { type: string; status: string }[]).map((c) => `${c.type}=${c.status}`).sort();
    assert.deepEqual(types, ['ContainersReady=True', 'Initialized=True', 'PodReadyToStartContainers=True', 'PodScheduled=True', 'Ready=True']);
    const c = containerStatus(p);
    assert.equal(c['restartCount'], 0);
    assert.equal(c['started'], true);
    assert.match(String(c['containerID']), /^containerd:\/\/[0-9a-f]{64}$/);
    assert.match(String(c['imageID']), /sha256:/);
  }
  const hostKernel = (await readFile('/proc/sys/kernel/osrelease', 'utf8')).trim();
  assert.equal((await exec(plain, ['uname', '-r'])).trim(), hostKernel);
  assert.notEqual((await exec(vm, ['uname', '-r'])).trim(), hostKernel, 'the VM pod runs on its own kernel');
  const events = await cluster.client.list(`/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Dvm`);
  const reasons = events.items.map((e) => e['reason']);
  for (const r of ['Scheduled', 'Pulled', 'Created', 'Started']) assert.ok(reasons.includes(r), `event ${r} recorded (${reasons.join(', ')})`);
});

test('a crashing container backs off with growing delays; with restartPolicy Never the pod fails with its exit code', async () => {
  await cluster.client.create('/api/v1/namespaces/default/pods', pod('crash', {}, ['sh', '-c', 'exit 1']));
  await cluster.client.create('/api/v1/namespaces/default/pods', pod('once', { restartPolicy: 'Never' }, ['sh', '-c', 'exit 1']));
  const failed = await waitPod('once', (p) => status(p)['phase'] === 'Failed', 'failed');
  const term = (containerStatus(failed)['state'] as { terminated?: { exitCode: number; reason: string } }).terminated;
  assert.equal(term?.exitCode, 1);
  assert.equal(term?.reason, 'Error');
  const looping = await waitPod('crash', (p) => Number(containerStatus(p)['restartCount']) >= 1
    && (containerStatus(p)['state'] as { waiting?: { reason: string } }).waiting?.reason === 'CrashLoopBackOff', 'backed off');
  const waiting = (containerStatus(looping)['state'] as { waiting: { message: string } }).waiting;
  assert.match(waiting.message, /back-off 20s/, 'the second wait is twice the first');
  assert.equal((containerStatus(looping)['lastState'] as { terminated?: { exitCode: number } }).terminated?.exitCode, 1);
  for (const name of ['crash', 'once']) await cluster.client.delete(podPath(name));
});

test('init containers run first; readiness and liveness probes gate and restart containers', async () => {
  await cluster.client.create('/api/v1/namespaces/default/pods', {
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'probed', namespace: 'default' },
    spec: {
      terminationGracePeriodSeconds: 2,
      initContainers: [{ name: 'init', image: BUSYBOX_IMAGE, imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', 'sleep 1'] }],
      containers: [
        { name: 'gated', image: BUSYBOX_IMAGE, imagePullPolicy: 'IfNotPresent', command: ['sleep', '1000'],
          readinessProbe: { exec: { command: ['test', '-f', '/tmp/ready'] }, periodSeconds: 1 } },
        { name: 'doomed', image: BUSYBOX_IMAGE, imagePullPolicy: 'IfNotPresent', command: ['sleep', '1000'],
          livenessProbe: { exec: { command: ['test', '-f', '/nonexistent'] }, periodSeconds: 1, failureThreshold: 2 } },
      ],
    },
  });
  const initDone = await waitPod('probed', (p) => {
    const init = (status(p)['initContainerStatuses'] as { state?: { terminated?: { reason: string } } }[] | undefined)?.[0];
    return init?.state?.terminated?.reason === 'Completed' && containerStatus(p)['started'] === true;
  }, 'initialized');
  assert.equal(containerStatus(initDone)['ready'], false, 'not ready while the readiness probe fails');
  await exec(initDone, ['touch', '/tmp/ready']);
  await waitPod('probed', (p) => containerStatus(p)['ready'] === true, 'became ready');
  const restarted = await waitPod('probed', (p) => Number(containerStatus(p, 1)['restartCount']) >= 1, 'restarted the container failing liveness');
  assert.equal(containerStatus(restarted)['restartCount'], 0, 'the healthy container is left alone');
  const reasons = (await cluster.client.list('/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Dprobed')).items.map((e) => e['reason']);
  assert.ok(reasons.includes('Unhealthy') && reasons.includes('Killing'), `Unhealthy and Killing events (${reasons.join(', ')})`);
  await cluster.client.delete(podPath('probed'));
});

test('a VM pod whose QEMU is killed is reported terminated and restarted', async () => {
  const before = await cluster.client.get(podPath('vm'));
  const sandbox = (await cri.cri.listPodSandbox({})).items.find((s) => s.metadata?.name === 'vm' && s.state === 'SANDBOX_READY');
  assert.ok(sandbox, 'the VM pod has a ready sandbox');
  const qemu = await processesWhere((cmd) => cmd.startsWith('qemu-system') && cmd.includes(`\0sandpod-${sandbox.id.slice(0, 24)}\0`));
  assert.equal(qemu.length, 1, 'the VM pod has one QEMU');
  process.kill(qemu[0] as number, 'SIGKILL');
  const restarted = await waitPod('vm', (p) => Number(containerStatus(p)['restartCount']) >= 1 && containerStatus(p)['ready'] === true, 'restarted', 120_000);
  const last = (containerStatus(restarted)['lastState'] as { terminated?: { exitCode: number } }).terminated;
  assert.equal(last?.exitCode, 137, 'the instance lost with its VM is reported terminated (137)');
  assert.notEqual(containerStatus(restarted)['containerID'], containerStatus(before)['containerID']);
  assert.equal(status(restarted)['phase'], 'Running');
});

test('a restarted agent adopts running pods; deleting a pod removes its sandbox', async () => {
  const before = await cluster.client.get(podPath('plain'));
  await agent.stop();
  agent = await startAgent();
  await agent.settled();
  const after = await cluster.client.get(podPath('plain'));
  assert.equal(containerStatus(after)['containerID'], containerStatus(before)['containerID'], 'the same container, not a new one');
  assert.equal(containerStatus(after)['restartCount'], 0);
  const sandboxes = (await cri.cri.listPodSandbox({})).items.filter((s) => s.metadata?.name === 'plain');
  assert.equal(sandboxes.length, 1, 'no duplicate sandbox');

  for (const name of ['plain', 'vm']) await cluster.client.delete(podPath(name));
  await waitUntil(async () => ((await cluster.client.list('/api/v1/namespaces/default/pods')).items.length === 0 ? true : undefined),
    { timeoutMs: 60_000, onTimeout: () => new Error('pods were not removed') });
  assert.deepEqual((await cri.cri.listPodSandbox({})).items.map((s) => s.metadata?.name), [], 'no sandbox is left');
});
