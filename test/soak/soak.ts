/**
 * The soak: a cluster kept busy for N minutes — a crash-looping VM pod and a crash-looping runc pod, exec, logs,
 * apply and delete traffic without pause, and 50 watchers — with API latency (p50/p99) per 5-minute window, etcd
 * size, the number of Events and each daemon's RSS sampled over time. It fails when p99 grows more than 3× from
 * the first window, or a daemon's RSS grows more than 50 % from the end of the first window (warm-up) to the end.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { KubeClient, type KubeObject } from '../../src/kube/index.js';
import { waitUntil } from '../../src/wait.js';

export interface SoakCluster {
  kubeconfig: string;
  /** `--state-dir … --run-dir …` of the cluster, for `sandpod status --json`. */
  roots: string[];
  /** The sandpod command of this checkout (a program and its first arguments). */
  sandpod: readonly string[];
  kubectl: string;
}

export interface WindowStats { window: number; requests: number; errors: number; p50: number; p99: number }
export interface Sample { atMs: number; rssKiB: Record<string, number>; etcdBytes: number; events: number }
export interface SoakResult { windows: WindowStats[]; samples: Sample[]; failures: string[]; counts: Record<string, number> }

const WINDOW_MS = 5 * 60_000;
const SAMPLE_MS = 30_000;

const pod = (name: string, spec: Record<string, unknown>): KubeObject => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, labels: { soak: 'yes' } }, spec });
const busybox = (command: string[], extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  terminationGracePeriodSeconds: 1, ...extra,
  containers: [{ name: 'main', image: 'busybox', imagePullPolicy: 'IfNotPresent', command, resources: { limits: { memory: '128Mi' }, requests: { cpu: '10m' } } }],
});

const quantile = (xs: number[], q: number): number => {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
};

function run(file: string, args: string[], timeoutMs = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0, stdout, stderr });
    });
    child.stdin?.on('error', () => undefined);
    child.stdin?.end();
  });
}

async function rssKiB(pid: number): Promise<number | undefined> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
  return m ? Number(m[1]) : undefined;
}

/** etcd's database size from its metrics endpoint (found through the API server's etcd flag in `status --json`). */
async function etcdBytes(endpoint: string | undefined): Promise<number> {
  if (!endpoint) return 0;
  try {
    const text = await (await fetch(`${endpoint}/metrics`)).text();
    return Number(/^etcd_mvcc_db_total_size_in_bytes (\S+)$/m.exec(text)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

export async function runSoak(cluster: SoakCluster, minutes: number, say: (line: string) => void = () => undefined): Promise<SoakResult> {
  const client = KubeClient.fromKubeconfig(cluster.kubeconfig);
  const base = '/api/v1/namespaces/default/pods';
  const latencies: Array<{ atMs: number; ms: number; ok: boolean }> = [];
  const samples: Sample[] = [];
  const counts: Record<string, number> = { exec: 0, logs: 0, applied: 0, deleted: 0, watchEvents: 0, errors: 0 };
  const stops: Array<() => void> = [];
  const t0 = Date.now();
  const deadline = t0 + minutes * 60_000;
  const timed = async <T>(f: () => Promise<T>): Promise<T | undefined> => {
    const start = Date.now();
    try {
      const v = await f();
      latencies.push({ atMs: start - t0, ms: Date.now() - start, ok: true });
      return v;
    } catch {
      latencies.push({ atMs: start - t0, ms: Date.now() - start, ok: false });
      counts['errors']! += 1;
      return undefined;
    }
  };
  try {
    await client.create(base, pod('soak-crash-vm', busybox(['sh', '-c', 'echo crashing; exit 1'], { runtimeClassName: 'kata-vm-isolation' })));
    await client.create(base, pod('soak-crash-runc', busybox(['sh', '-c', 'echo crashing; exit 1'])));
    await client.create(base, pod('soak-target', busybox(['sh', '-c', 'while :; do date; sleep 1; done'])));
    await waitUntil(async () => {
      const p = await client.get(`${base}/soak-target`);
      return (p['status'] as { phase?: string } | undefined)?.phase === 'Running' ? true : undefined;
    }, { timeoutMs: 240_000, intervalMs: 500, onTimeout: () => new Error('the soak target pod never ran') });
    for (let i = 0; i < 50; i++) {
      stops.push(await client.watch(base, {}, () => { counts['watchEvents']! += 1; }, () => undefined));
    }
    const status = JSON.parse((await run(cluster.sandpod[0]!, [...cluster.sandpod.slice(1), 'status', ...cluster.roots, '--json'])).stdout) as { daemons: Array<{ name: string; pid: number }>; etcdEndpoints?: string[] };
    const daemons = status.daemons;
    const etcd = status.etcdEndpoints?.[0];
    say(`soak: ${minutes} min; daemons ${daemons.map((d) => `${d.name}=${d.pid}`).join(', ')}`);
    let nextSample = Date.now();
    let n = 0;
    const kubectl = (args: string[]): Promise<{ code: number }> => run(cluster.kubectl, ['--kubeconfig', cluster.kubeconfig, ...args]);
    while (Date.now() < deadline) {
      if (Date.now() >= nextSample) {
        nextSample += SAMPLE_MS;
        const rss: Record<string, number> = {};
        for (const d of daemons) rss[d.name] = (await rssKiB(d.pid)) ?? 0;
        const events = (await timed(() => client.list('/api/v1/events')))?.items.length ?? 0;
        samples.push({ atMs: Date.now() - t0, rssKiB: rss, etcdBytes: await etcdBytes(etcd), events });
      }
      n++;
      await timed(() => client.list(base));
      await timed(() => client.get(`${base}/soak-target`));
      if (n % 3 === 0 && (await kubectl(['exec', 'soak-target', '--', 'echo', 'hi'])).code === 0) counts['exec']! += 1;
      if (n % 3 === 1 && (await kubectl(['logs', '--tail=5', 'soak-target'])).code === 0) counts['logs']! += 1;
      if (n % 5 === 0) {
        const name = `soak-churn-${n}`;
        if (await timed(() => client.create(base, pod(name, busybox(['sleep', '100000']))))) counts['applied']! += 1;
        if (await timed(() => client.delete(`${base}/${name}`))) counts['deleted']! += 1;
      }
    }
  } finally {
    for (const stop of stops) stop();
    for (const name of ['soak-crash-vm', 'soak-crash-runc', 'soak-target']) await client.delete(`${base}/${name}`).catch(() => undefined);
    client.close();
  }
  const windows: WindowStats[] = [];
  for (let w = 0; w * WINDOW_MS < minutes * 60_000; w++) {
    const inWindow = latencies.filter((l) => l.atMs >= w * WINDOW_MS && l.atMs < (w + 1) * WINDOW_MS);
    const ms = inWindow.filter((l) => l.ok).map((l) => l.ms);
    windows.push({ window: w + 1, requests: inWindow.length, errors: inWindow.filter((l) => !l.ok).length, p50: quantile(ms, 0.5), p99: quantile(ms, 0.99) });
  }
  const failures: string[] = [];
  const first = windows[0];
  const last = windows[windows.length - 1];
  if (first && last && last !== first && last.p99 > 3 * Math.max(first.p99, 1)) failures.push(`API p99 grew from ${first.p99} ms (window 1) to ${last.p99} ms (window ${last.window})`);
  const warm = samples.filter((s) => s.atMs <= WINDOW_MS).at(-1) ?? samples[0];
  const end = samples.at(-1);
  if (warm && end && warm !== end) {
    for (const [name, kib] of Object.entries(end.rssKiB)) {
      const was = warm.rssKiB[name] ?? 0;
      if (was > 0 && kib > 1.5 * was) failures.push(`${name} RSS grew from ${Math.round(was / 1024)} MiB to ${Math.round(kib / 1024)} MiB`);
    }
  }
  return { windows, samples, failures, counts };
}

/** The soak's figures as lines for a terminal or a test's output. */
export function report(r: SoakResult): string[] {
  const lines = ['window  requests  errors  p50 ms  p99 ms'];
  for (const w of r.windows) lines.push(`${String(w.window).padStart(6)}  ${String(w.requests).padStart(8)}  ${String(w.errors).padStart(6)}  ${String(w.p50).padStart(6)}  ${String(w.p99).padStart(6)}`);
  lines.push('t (s)  events  etcd MiB  RSS MiB by daemon');
  for (const s of r.samples) {
    lines.push(`${String(Math.round(s.atMs / 1000)).padStart(5)}  ${String(s.events).padStart(6)}  ${(s.etcdBytes / 2 ** 20).toFixed(1).padStart(8)}  ${Object.entries(s.rssKiB).map(([n, k]) => `${n} ${Math.round(k / 1024)}`).join(', ')}`);
  }
  lines.push(`traffic: ${Object.entries(r.counts).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  lines.push(...(r.failures.length ? r.failures.map((f) => `FAIL: ${f}`) : ['soak passed']));
  return lines;
}
