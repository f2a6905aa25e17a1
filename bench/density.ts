/**
 * bench/density: how many idle VM pods one node holds, and what each costs the host. A local cluster (`sandpod up`
 * under temporary roots); VM pods (kata-vm-isolation, busybox `sleep`, memory limit BENCH_POD_MEMORY, default 128Mi)
 * created BENCH_BATCH at a time (default 10) until BENCH_TARGET (default 150) are Ready, or the scheduler refuses
 * one (it says why: the RuntimeClass overhead and the pods' requests against the node's capacity), or the host's
 * MemAvailable falls under BENCH_MIN_FREE_MIB (default 2048). Then, with the set idle: PSS per pod (QEMU, shim,
 * both; from /proc/PID/smaps_rollup), the CPU the idle set uses (QEMU and shims over BENCH_IDLE_S seconds), and
 * `kubectl exec … true` latency into BENCH_EXECS pods. Prints figures; asserts nothing.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { groupOfShimDaemon, processCommandLines, sandboxOfQemu } from '../src/pod-vm-identity.js';
import { KubeClient, type KubeObject } from '../src/kube/index.js';
import { waitUntil } from '../src/wait.js';
import { kubectlVersions } from '../test/e2e/harness.js';
import { sandpod } from '../test/e2e/helpers.js';

const TARGET = Number(process.env['BENCH_TARGET'] ?? 150);
const BATCH = Number(process.env['BENCH_BATCH'] ?? 10);
const POD_MEMORY = process.env['BENCH_POD_MEMORY'] ?? '128Mi';
const MIN_FREE_MIB = Number(process.env['BENCH_MIN_FREE_MIB'] ?? 2048);
const IDLE_S = Number(process.env['BENCH_IDLE_S'] ?? 30);
const EXECS = Number(process.env['BENCH_EXECS'] ?? 10);
const root = mkdtempSync(join(tmpdir(), 'sandpod-bench-density-'));
const roots = ['--state-dir', join(root, 'state'), '--run-dir', join(root, 'run')];
const kubeconfig = join(root, 'state', 'clusters', 'local', 'default', 'kubeconfig');

const kubectl = (args: string[]): Promise<string> => new Promise((resolve, reject) => {
  execFile(kubectlVersions['1.32']!, ['--kubeconfig', kubeconfig, '--cache-dir', join(root, 'kc'), ...args], { timeout: 300_000 },
    (err, stdout, stderr) => (err ? reject(new Error(`kubectl ${args.join(' ')}: ${stderr}`)) : resolve(stdout)));
});

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
};

const pod = (name: string): KubeObject => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', labels: { bench: 'density' } },
  spec: {
    runtimeClassName: 'kata-vm-isolation', terminationGracePeriodSeconds: 0,
    containers: [{ name: 'main', image: 'busybox', imagePullPolicy: 'IfNotPresent', command: ['sleep', '86400'], resources: { limits: { memory: POD_MEMORY } } }],
  },
});

async function memAvailableMiB(): Promise<number> {
  const m = /^MemAvailable:\s+(\d+) kB$/m.exec(await readFile('/proc/meminfo', 'utf8'));
  return Number(m?.[1] ?? 0) / 1024;
}

interface PodState { ready: boolean; unschedulable?: string }

function podState(p: KubeObject): PodState {
  const conditions = ((p['status'] as { conditions?: Array<{ type: string; status: string; reason?: string; message?: string }> } | undefined)?.conditions) ?? [];
  const scheduled = conditions.find((c) => c.type === 'PodScheduled');
  return {
    ready: conditions.some((c) => c.type === 'Ready' && c.status === 'True'),
    ...(scheduled?.status === 'False' && scheduled.reason === 'Unschedulable' ? { unschedulable: scheduled.message ?? 'unschedulable' } : {}),
  };
}

/** This cluster's VM processes: QEMU and shim daemons whose command line names its roots. */
async function vmProcesses(): Promise<{ qemu: number[]; shim: number[] }> {
  const out = { qemu: [] as number[], shim: [] as number[] };
  for (const p of await processCommandLines()) {
    if (!p.argv.some((a) => a.includes(root))) continue;
    if (sandboxOfQemu(p.argv) !== undefined) out.qemu.push(p.pid);
    else if (groupOfShimDaemon(p.argv) !== undefined) out.shim.push(p.pid);
  }
  return out;
}

const pssKiB = async (pid: number): Promise<number> =>
  Number(/^Pss:\s+(\d+) kB$/m.exec(await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => ''))?.[1] ?? 0);

/** utime + stime in clock ticks (proc(5): fields 14 and 15, counted after the command's closing parenthesis). */
async function cpuTicks(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
}

const SELECTED = '/api/v1/namespaces/default/pods?labelSelector=bench%3Ddensity';
const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

async function main(): Promise<void> {
  const up = await sandpod(['up', ...roots, '--pod-subnet', '10.246.0.0/23'], process.env, undefined, 300_000);
  if (up.code !== 0) throw new Error(`sandpod up failed: ${up.stderr}`);
  const client = KubeClient.fromKubeconfig(kubeconfig);
  const lines: string[] = [];
  try {
    // The template for this size, made once and not counted.
    await client.create('/api/v1/namespaces/default/pods', pod('warm'));
    await kubectl(['wait', '--for=condition=Ready', 'pod/warm', '--timeout=600s']);
    await kubectl(['delete', 'pod', 'warm', '--wait=true']);
    const t0 = Date.now();
    let created = 0;
    let stop: string | undefined;
    const batches: string[] = [];
    while (created < TARGET && stop === undefined) {
      const free = await memAvailableMiB();
      if (free < MIN_FREE_MIB) { stop = `the host's MemAvailable is ${free.toFixed(0)} MiB, under ${MIN_FREE_MIB}`; break; }
      const names = Array.from({ length: Math.min(BATCH, TARGET - created) }, (_, i) => `vm-${String(created + i).padStart(3, '0')}`);
      const b0 = Date.now();
      await Promise.all(names.map((n) => client.create('/api/v1/namespaces/default/pods', pod(n))));
      created += names.length;
      await waitUntil(async () => {
        const states = (await client.list(SELECTED)).items.map(podState);
        // A pod the scheduler refuses ends the run, once the ones it placed are Ready too.
        const refused = states.find((s) => s.unschedulable !== undefined);
        if (refused) stop = `the scheduler refused ${states.filter((s) => s.unschedulable !== undefined).length} pod(s): ${refused.unschedulable}`;
        return states.length === created && states.every((s) => s.ready || s.unschedulable !== undefined) ? true : undefined;
      }, { timeoutMs: 30 * 60_000, intervalMs: 1000, onTimeout: () => new Error(`the pods of batch ${batches.length + 1} were not Ready within 30 min`) });
      const ready = (await client.list(SELECTED)).items.filter((p) => podState(p).ready).length;
      batches.push(`${names.length} in ${((Date.now() - b0) / 1000).toFixed(0)} s`);
      process.stderr.write(`  ${ready} VM pods Ready after ${((Date.now() - t0) / 1000).toFixed(0)} s; MemAvailable ${(await memAvailableMiB()).toFixed(0)} MiB; load ${(await readFile('/proc/loadavg', 'utf8')).split(' ')[0]}\n`);
    }
    const allReadyS = (Date.now() - t0) / 1000;
    const pods = (await client.list(SELECTED)).items.filter((p) => podState(p).ready).map((p) => p.metadata.name ?? '');
    // Idle: let the last starts settle before measuring.
    await new Promise((r) => setTimeout(r, 30_000));
    const procs = await vmProcesses();
    const qemuPss = await Promise.all(procs.qemu.map(pssKiB));
    const shimPss = await Promise.all(procs.shim.map(pssKiB));
    const all = [...procs.qemu, ...procs.shim];
    const before = await Promise.all(all.map(cpuTicks));
    await new Promise((r) => setTimeout(r, IDLE_S * 1000));
    const after = await Promise.all(all.map(cpuTicks));
    const idleCores = (sum(after) - sum(before)) / 100 / IDLE_S;
    const execMs: number[] = [];
    for (let i = 0; i < Math.min(EXECS, pods.length); i++) {
      const name = pods[Math.floor((i * pods.length) / Math.min(EXECS, pods.length))]!;
      const e0 = performance.now();
      await kubectl(['exec', name, '--', 'true']);
      execMs.push(performance.now() - e0);
    }
    const mib = (kib: number): string => `${(kib / 1024).toFixed(1)} MiB`;
    const n = pods.length;
    lines.push(`density: ${n} idle VM pods Ready (${POD_MEMORY} limit, busybox sleep), target ${TARGET}, batches of ${BATCH}; ${stop ? `stopped: ${stop}` : 'target reached'}`);
    lines.push(`  time to all Ready: ${allReadyS.toFixed(0)} s (batches: ${batches.join(', ')})`);
    lines.push(`  processes: ${procs.qemu.length} QEMU, ${procs.shim.length} shims`);
    if (procs.qemu.length !== n) lines.push(`  note: ${procs.qemu.length} QEMU processes for ${n} Ready pods`);
    lines.push(`  PSS per pod: QEMU ${mib(sum(qemuPss) / Math.max(1, procs.qemu.length))}, shim ${mib(sum(shimPss) / Math.max(1, procs.shim.length))}, total ${mib((sum(qemuPss) + sum(shimPss)) / Math.max(1, procs.qemu.length))}`);
    lines.push(`  PSS of the set: ${mib(sum(qemuPss) + sum(shimPss))}; host MemAvailable now ${(await memAvailableMiB()).toFixed(0)} MiB`);
    lines.push(`  CPU of the idle set over ${IDLE_S} s: ${(idleCores * 1000).toFixed(0)} millicores in all, ${((idleCores * 1000) / Math.max(1, procs.qemu.length)).toFixed(1)} per pod`);
    lines.push(`  kubectl exec … true into ${execMs.length} pods: p50 ${pct(execMs, 50).toFixed(0)} ms, p90 ${pct(execMs, 90).toFixed(0)} ms`);
    await client.call('DELETE', SELECTED).catch((err: unknown) => process.stderr.write(`  deleting the pods failed (down removes them): ${String(err)}\n`));
  } finally {
    client.close();
    await sandpod(['down', ...roots], process.env, undefined, 900_000);
    await rm(root, { recursive: true, force: true });
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
