/**
 * API server benchmark: list latency with 1000 pods (p50/p99, JSON and Table; to the last byte, and with the
 * client decoding the JSON as a real client would), and how long one change takes
 * to reach 50 concurrent watchers. Targets (issue 3): list ≤ 50 ms p50; every watcher within 100 ms.
 * Runs a real control plane under a temporary root and stops it by PID at the end.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'node:https';
import { performance } from 'node:perf_hooks';
import { down, up } from '../src/cluster/index.js';
import { KubeClient } from '../src/kube/index.js';
import { resolvePaths } from '../src/paths.js';

const podCount = Number(process.env['BENCH_PODS'] ?? 1000);
const watcherCount = Number(process.env['BENCH_WATCHERS'] ?? 50);
const listRuns = Number(process.env['BENCH_LIST_RUNS'] ?? 50);

const percentile = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};
const ms = (n: number): string => `${n.toFixed(1)} ms`;

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'sandpod-bench-'));
  const paths = resolvePaths({ stateRoot: join(root, 'state'), runRoot: join(root, 'run'), cacheRoot: join(root, 'cache') });
  const state = await up(paths);
  const client = KubeClient.fromKubeconfig(state.kubeconfig);
  try {
    const base = '/api/v1/namespaces/default/pods';
    const t0 = performance.now();
    for (let i = 0; i < podCount; i += 25) {
      await Promise.all(Array.from({ length: Math.min(25, podCount - i) }, (_, j) => client.create(base, {
        apiVersion: 'v1', kind: 'Pod', metadata: { name: `bench-${i + j}`, labels: { app: 'bench', shard: String((i + j) % 10) } },
        spec: { nodeSelector: { pool: 'none' }, containers: [{ name: 'app', image: 'busybox:1.36', resources: { requests: { cpu: '10m', memory: '16Mi' } } }] },
      })));
    }
    process.stdout.write(`created ${podCount} pods in ${ms(performance.now() - t0)}\n`);

    const agent = new Agent({ keepAlive: true, ca: client.config.ca });
    /** Request to last byte, body not decoded: the server's share of a list. */
    const fetchBytes = (headers: Record<string, string>): Promise<number> => new Promise((resolve, reject) => {
      const req = request(`${client.config.server}${base}?limit=500`, { agent, headers: { Authorization: `Bearer ${client.config.token}`, ...headers } }, (res) => {
        if (res.statusCode !== 200) reject(new Error(`list failed with HTTP ${res.statusCode ?? 0}`));
        res.resume();
        res.on('end', () => resolve(0));
      });
      req.on('error', reject);
      req.end();
    });
    for (const [label, headers] of [['JSON', {}], ['Table', { Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' }]] as const) {
      const served: number[] = [];
      const decoded: number[] = [];
      for (let i = 0; i < listRuns; i++) {
        let s = performance.now();
        await fetchBytes(headers);
        served.push(performance.now() - s);
        s = performance.now();
        const res = await client.raw('GET', `${base}?limit=500`, { headers });
        decoded.push(performance.now() - s);
        if (res.code !== 200) throw new Error(`list failed with HTTP ${res.code}`);
      }
      process.stdout.write(`list ${podCount} pods (${label}): to last byte p50 ${ms(percentile(served, 50))}, p99 ${ms(percentile(served, 99))}; `
        + `with client JSON decode p50 ${ms(percentile(decoded, 50))}, p99 ${ms(percentile(decoded, 99))} (${listRuns} runs each)\n`);
    }
    agent.destroy();

    const rv = (await client.list(`${base}?labelSelector=shard%3D0`)).metadata.resourceVersion;
    const arrivals: number[] = [];
    let changedAt = 0;
    const stops = await Promise.all(Array.from({ length: watcherCount }, () => client.watch(base, { resourceVersion: rv, labelSelector: 'app=bench' }, (e) => {
      if (e.type === 'MODIFIED' && e.object.metadata.name === 'bench-0') arrivals.push(performance.now() - changedAt);
    }, () => undefined)));
    const rounds = 5;
    const worst: number[] = [];
    for (let r = 0; r < rounds; r++) {
      arrivals.length = 0;
      changedAt = performance.now();
      await client.mergePatch(`${base}/bench-0`, { metadata: { labels: { round: String(r) } } });
      const deadline = Date.now() + 5000;
      while (arrivals.length < watcherCount && Date.now() < deadline) await new Promise((res) => setImmediate(res));
      if (arrivals.length < watcherCount) throw new Error(`only ${arrivals.length} of ${watcherCount} watchers saw the change within 5 s`);
      worst.push(Math.max(...arrivals));
    }
    for (const stop of stops) stop();
    process.stdout.write(`one change to ${watcherCount} watchers: all delivered within ${ms(percentile(worst, 50))} (median of ${rounds} rounds), worst round ${ms(Math.max(...worst))}\n`);
  } finally {
    client.close();
    await down(paths);
    rmSync(root, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/api: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
