/**
 * `kubectl top` on a real local cluster through metrics.k8s.io/v1beta1: a VM pod spinning one CPU, an idle VM
 * pod and a plain runc pod. Within 60 s of the pods being Ready, `top pod`, `top pod --containers` and
 * `top node` show usage; the spinning VM pod shows about one core (the guest's own accounting, which under TCG
 * counts wall-clock time the vCPU thread had or waited for); a VM pod's PodMetrics carries what its QEMU and shim
 * cost the host; label selectors, all namespaces, kubectl 1.33 and the 405 for writes work as metrics-server's do.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { parseQuantity } from '../../src/kube/index.js';
import { waitUntil } from '../../src/wait.js';
import { kubectlVersions } from './harness.js';
import { localCluster } from './local-cluster.js';

const cluster = localCluster('metrics');

const pods = `apiVersion: v1
kind: Pod
metadata: {name: spin-vm, labels: {app: spin}}
spec:
  runtimeClassName: kata-vm-isolation
  containers:
  - name: spin
    image: busybox
    command: ["sh", "-c", "while :; do :; done"]
    resources: {limits: {cpu: "1", memory: 256Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: idle-vm, labels: {app: idle}}
spec:
  runtimeClassName: kata-vm-isolation
  containers:
  - name: idle
    image: busybox
    command: ["sleep", "3600"]
    # One vCPU as well (limits round up), but a smaller request: the node has 2 CPUs and each VM pod adds 100m.
    resources: {limits: {cpu: 500m, memory: 256Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: plain, labels: {app: plain}}
spec:
  containers:
  - name: tick
    image: busybox
    # 16Mi in /dev/shm (charged to the container's memory) and a little work every second.
    command: ["sh", "-c", "dd if=/dev/zero of=/dev/shm/ballast bs=1M count=16 2>/dev/null; while :; do i=0; while [ $i -lt 300 ]; do i=$((i+1)); done; sleep 1; done"]
`;

/**
 * The spinning VM pod's CPU as the guest accounts it: one vCPU that never idles is 1000m. The guest counts
 * wall-clock time, so host contention (two cores shared with QEMU's own threads and other work) does not lower
 * it much; the slack is for the sampling windows of CRI stats relayed through the shim and guest agent
 * (tens of ms out of 10 s) and for the guest kernel's own work on that vCPU.
 */
const BUSY_MIN = 700;
const BUSY_MAX = 1300;

/** `kubectl top … --no-headers` as rows of cells. */
const rows = (out: string): string[][] => out.trim().split('\n').filter((l) => l.trim() !== '').map((l) => l.trim().split(/\s+/));
const milli = (cell: string | undefined): number => Number(/^(\d+)m$/.exec(cell ?? '')?.[1] ?? NaN);
const mebi = (cell: string | undefined): number => Number(/^(\d+)Mi$/.exec(cell ?? '')?.[1] ?? NaN);
const byName = (out: string, column = 0): Map<string, string[]> => new Map(rows(out).map((r) => [r[column] ?? '', r]));

interface PodMetrics {
  metadata: { name: string; annotations?: Record<string, string> };
  timestamp: string;
  window: string;
  containers: Array<{ name: string; usage: { cpu: string; memory: string } }>;
}
const rawPodMetrics = async (name: string): Promise<PodMetrics> =>
  JSON.parse(await cluster.ok(['get', '--raw', `/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/${name}`])) as PodMetrics;
const cores = (q: string | undefined): number => parseQuantity(q ?? '') ?? NaN;
const mib = (q: string | undefined): number => (parseQuantity(q ?? '') ?? NaN) / 2 ** 20;

test('kubectl top pod, top pod --containers and top node show usage within 60 s; the spinning VM pod uses about one core', async (t) => {
  await cluster.ok(['apply', '-f', '-'], pods);
  await cluster.ok(['wait', '--for=condition=Ready', 'pod/spin-vm', 'pod/idle-vm', 'pod/plain', '--timeout=240s']);
  const ready = Date.now();

  let last = '';
  const top = await waitUntil(async () => {
    const r = await cluster.kubectl(['top', 'pod', '--no-headers']);
    last = `${r.stdout}${r.stderr}`;
    const m = byName(r.stdout);
    const spin = m.get('spin-vm');
    const plain = m.get('plain');
    const shown = spin && plain && m.has('idle-vm') && milli(spin[1]) > 0 && mebi(spin[2]) > 0 && milli(plain[1]) > 0 && mebi(plain[2]) > 0;
    return shown ? m : undefined;
  }, { timeoutMs: 60_000, intervalMs: 2_000, onTimeout: () => new Error(`kubectl top pod showed no usage for every pod within 60 s of Ready; last:\n${last}`) });
  const seconds = (Date.now() - ready) / 1000;
  const spin = milli(top.get('spin-vm')?.[1]);
  t.diagnostic(`top pod ${seconds.toFixed(1)} s after Ready: ${[...top.values()].map((r) => r.join(' ')).join('; ')}`);
  assert.ok(spin >= BUSY_MIN && spin <= BUSY_MAX, `the spinning VM pod shows ${spin}m, expected ${BUSY_MIN}–${BUSY_MAX}m`);
  assert.ok(mebi(top.get('plain')?.[2]) >= 16, 'the plain pod\'s 16Mi in /dev/shm is in its working set');

  const containers = byName(await cluster.ok(['top', 'pod', '--containers', '--no-headers']), 1);
  t.diagnostic(`top pod --containers: ${[...containers.values()].map((r) => r.join(' ')).join('; ')}`);
  assert.deepEqual(containers.get('spin')?.[0], 'spin-vm', 'POD column');
  const spinContainer = milli(containers.get('spin')?.[2]);
  assert.ok(spinContainer >= BUSY_MIN && spinContainer <= BUSY_MAX, `container spin shows ${spinContainer}m`);
  assert.ok(milli(containers.get('tick')?.[2]) > 0 && mebi(containers.get('tick')?.[3]) > 0, 'container tick of the plain pod');
  assert.equal(containers.get('idle')?.[0], 'idle-vm');

  const [node] = rows(await cluster.ok(['top', 'node', '--no-headers']));
  t.diagnostic(`top node: ${node?.join(' ')}`);
  assert.equal(node?.[0], 'sandpod-node-1');
  assert.ok(milli(node?.[1]) >= BUSY_MIN, `the node's CPU (${node?.[1]}) includes the QEMU thread running the spinning vCPU`);
  assert.match(node?.[2] ?? '', /^\d+%$/, 'CPU(%) of the node\'s allocatable');
  assert.ok(mebi(node?.[3]) > 0);
  assert.match(node?.[4] ?? '', /^\d+%$/);
});

test('a VM pod\'s PodMetrics carries its QEMU and shim host cost in annotations; a plain pod\'s does not', async (t) => {
  const spin = await rawPodMetrics('spin-vm');
  const idle = await rawPodMetrics('idle-vm');
  const plain = await rawPodMetrics('plain');
  for (const m of [spin, idle]) {
    const a = m.metadata.annotations ?? {};
    t.diagnostic(`${m.metadata.name}: guest ${m.containers.map((c) => `${c.name} ${c.usage.cpu} ${c.usage.memory}`).join(', ')} over ${m.window}; host ${JSON.stringify(a)}`);
    assert.ok(cores(a['sandpod.io/vm-host-cpu']) > 0, `${m.metadata.name}: host CPU ${a['sandpod.io/vm-host-cpu']}`);
    assert.ok(mib(a['sandpod.io/vm-host-memory']) > 10, `${m.metadata.name}: host memory (PSS) ${a['sandpod.io/vm-host-memory']}`);
    assert.ok(mib(a['sandpod.io/vm-host-memory-rss']) >= mib(a['sandpod.io/vm-host-memory']), 'RSS counts shared pages in full, so it is at least the PSS');
    const procs = Object.fromEntries((a['sandpod.io/vm-host-processes'] ?? '').split(',').map((kv) => kv.split('=')));
    assert.deepEqual(Object.keys(procs), ['qemu', 'shim']);
    const qemu = (await readFile(`/proc/${procs['qemu']}/cmdline`, 'utf8')).split('\0');
    assert.match(qemu[0] ?? '', /qemu-system/, 'the pid named is a QEMU');
    assert.ok((await readFile(`/proc/${procs['shim']}/cmdline`, 'utf8')).includes('shim'), 'the pid named is the shim');
  }
  assert.notEqual(spin.metadata.annotations?.['sandpod.io/vm-host-processes'], idle.metadata.annotations?.['sandpod.io/vm-host-processes'], 'each VM pod has its own QEMU and shim');
  assert.ok(cores(spin.metadata.annotations?.['sandpod.io/vm-host-cpu']) > 0.5, 'a spinning vCPU costs the host most of a core');
  assert.ok(cores(idle.metadata.annotations?.['sandpod.io/vm-host-cpu']) < cores(spin.metadata.annotations?.['sandpod.io/vm-host-cpu']));
  assert.equal(plain.metadata.annotations, undefined);
  assert.match(spin.window, /^\d+(\.\d+)?s$/, 'a Go duration');
  assert.match(spin.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
});

test('selectors, all namespaces, kubectl 1.33; writes and watches are refused', async () => {
  const spinOnly = rows(await cluster.ok(['top', 'pod', '-l', 'app=spin', '--no-headers']));
  assert.deepEqual(spinOnly.map((r) => r[0]), ['spin-vm']);
  const all = rows(await cluster.ok(['top', 'pod', '-A', '--no-headers']));
  assert.deepEqual(all.filter((r) => r[0] === 'default').map((r) => r[1]).sort(), ['idle-vm', 'plain', 'spin-vm'], 'NAMESPACE column first');
  assert.match(await cluster.ok(['get', 'podmetrics', 'spin-vm']), /^spin-vm\s+\S+\s+\S+\s+[\d.]+m?s$/m, 'metrics-server\'s table: cpu, memory, window');
  if (kubectlVersions['1.33']) {
    const k133 = async (args: string[]): Promise<string> => {
      const r = await cluster.kubectl(args, { version: '1.33' });
      assert.equal(r.code, 0, `kubectl 1.33 ${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    const containers = byName(await k133(['top', 'pod', '--containers', '--no-headers']), 1);
    assert.ok(milli(containers.get('spin')?.[2]) >= BUSY_MIN, 'kubectl 1.33 top pod --containers');
    assert.ok(milli(rows(await k133(['top', 'node', '--no-headers']))[0]?.[1]) > 0, 'kubectl 1.33 top node');
  }
  const del = await cluster.kubectl(['delete', '--raw', '/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/spin-vm']);
  assert.notEqual(del.code, 0);
  assert.match(del.stderr, /MethodNotAllowed.*pods\.metrics\.k8s\.io serves only get and list/);
  const watch = await cluster.kubectl(['get', 'podmetrics', '--watch', '--request-timeout=20s']);
  assert.match(watch.stderr, /MethodNotAllowed/, 'metrics cannot be watched');
  const missing = await cluster.kubectl(['top', 'pod', 'nosuch']);
  assert.match(missing.stderr, /NotFound.*"nosuch" not found/);
});
