/**
 * bench/cluster: how long `sandpod create` takes for a 1-node and a 3-node cluster and `sandpod nodepool add` for a
 * 1-node pool (BENCH_RUNS each, default 3; under temporary roots, the lab images and guest image cached), and what
 * an idle node costs this machine: its containerd and node agent, PSS (shared pages divided among their users) and
 * RSS, read from /proc/<pid>/smaps_rollup 20 s after the nodes are Ready. Prints p50/min/max; asserts nothing.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { sandpod } from '../test/e2e/helpers.js';

const RUNS = Math.max(1, Number(process.env['BENCH_RUNS'] ?? 3));
const IDLE_S = Number(process.env['BENCH_IDLE_S'] ?? 20);
const root = mkdtempSync(join(tmpdir(), 'sandpod-bench-cluster-'));
const roots = ['--state-dir', join(root, 'state'), '--run-dir', join(root, 'run')];

async function timed(args: string[]): Promise<number> {
  const t0 = performance.now();
  const r = await sandpod([...args, ...roots], process.env, undefined, 600_000);
  if (r.code !== 0) throw new Error(`sandpod ${args.join(' ')} failed:\n${r.stderr}`);
  return performance.now() - t0;
}

const statusSchema = z.object({ daemons: z.array(z.object({ name: z.string(), pid: z.number() }).passthrough()), supervisor: z.object({ pid: z.number() }).passthrough().optional() }).passthrough();

async function daemons(name: string): Promise<z.infer<typeof statusSchema>> {
  const r = await sandpod(['status', '--name', name, '--json', ...roots], process.env);
  return statusSchema.parse(JSON.parse(r.stdout));
}

/** PSS and RSS of a process in KiB. */
function memory(pid: number): { pss: number; rss: number } {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { pss: kib('Pss'), rss: kib('Rss') };
}

const stats = (xs: number[]): string => {
  const s = [...xs].sort((a, b) => a - b);
  return `p50 ${(s[Math.floor((s.length - 1) / 2)]! / 1000).toFixed(1)} s  min ${(s[0]! / 1000).toFixed(1)} s  max ${(s[s.length - 1]! / 1000).toFixed(1)} s`;
};
const mib = (kib: number): string => `${(kib / 1024).toFixed(1)} MiB`;

async function main(): Promise<void> {
  const one: number[] = [];
  const three: number[] = [];
  const add: number[] = [];
  const perNode: Array<{ containerd: { pss: number; rss: number }; agent: { pss: number; rss: number } }> = [];
  let controlPlane = '';
  try {
    for (let i = 0; i < RUNS; i++) {
      one.push(await timed(['create', '--name', `one${i}`, '--node-count', '1', '-o', 'none']));
      await timed(['delete', '--name', `one${i}`, '--yes']);
      three.push(await timed(['create', '--name', `three${i}`, '--node-count', '3', '-o', 'none']));
      add.push(await timed(['nodepool', 'add', '--cluster-name', `three${i}`, '--name', 'extra', '--node-count', '1', '-o', 'none']));
      if (i === RUNS - 1) {
        await sleep(IDLE_S * 1000);
        const s = await daemons(`three${i}`);
        const pid = (name: string): number => s.daemons.find((d) => d.name === name)?.pid ?? 0;
        for (const d of s.daemons.filter((x) => x.name.startsWith('containerd/'))) {
          const node = d.name.slice('containerd/'.length);
          perNode.push({ containerd: memory(d.pid), agent: memory(pid(`node-agent/${node}`)) });
        }
        const cp = ['etcd', 'apiserver', 'scheduler', 'controller-manager', 'registry'].map((n) => `${n} ${mib(memory(pid(n)).pss)}`);
        controlPlane = [...cp, ...(s.supervisor ? [`supervisor ${mib(memory(s.supervisor.pid).pss)}`] : [])].join(', ');
      }
      await timed(['delete', '--name', `three${i}`, '--yes']);
      process.stderr.write(`  run ${i + 1}/${RUNS}: create 1 node ${(one[i]! / 1000).toFixed(1)} s, 3 nodes ${(three[i]! / 1000).toFixed(1)} s, nodepool add ${(add[i]! / 1000).toFixed(1)} s\n`);
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  const avg = (f: (n: typeof perNode[number]) => number): number => perNode.reduce((sum, n) => sum + f(n), 0) / perNode.length;
  process.stdout.write([
    `cluster: ${RUNS} run(s) each, lab and guest images cached`,
    `  sandpod create, 1 node          ${stats(one)}`,
    `  sandpod create, 3 nodes         ${stats(three)}`,
    `  sandpod nodepool add, 1 node    ${stats(add)}`,
    `  idle node (${perNode.length} nodes, ${IDLE_S} s after Ready): containerd ${mib(avg((n) => n.containerd.pss))} PSS (${mib(avg((n) => n.containerd.rss))} RSS), `
      + `node agent ${mib(avg((n) => n.agent.pss))} PSS (${mib(avg((n) => n.agent.rss))} RSS); per node ${mib(avg((n) => n.containerd.pss + n.agent.pss))} PSS`,
    `  the cluster's other daemons (PSS): ${controlPlane}`,
    '',
  ].join('\n'));
}

await main();
