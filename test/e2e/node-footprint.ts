/**
 * What a local cluster holds on this machine, counted the same way before and after a test that should leave
 * it as it found it (churn, faults): its processes and their open files, mounts, network namespaces, pod veths,
 * nftables rules (the host's and the node's), files under its roots, and the objects its API stores.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CriClient } from '../../src/cri/index.js';
import type { KubeClient } from '../../src/kube/index.js';
import { processesWhere } from './helpers.js';
import { execText } from './local-cluster.js';

export interface Footprint {
  processes: number;
  /** Open file descriptors of the cluster's long-running daemons (not shims or VMs, which come and go with pods). */
  daemonFds: number;
  mounts: number;
  netns: number;
  veths: number;
  nftRules: number;
  files: number;
  /** Stored API objects other than Events, and Events on their own (they merge and expire after an hour). */
  objects: number;
  events: number;
}

async function listFiles(dir: string, skip: (path: string) => boolean, out: string[] = []): Promise<string[]> {
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const path = join(dir, e.name);
    if (skip(path)) continue;
    if (e.isDirectory()) await listFiles(path, skip, out);
    else out.push(path);
  }
  return out;
}

/** Logs and etcd's own files grow by design (bounded by rotation and compaction): they are not counted. */
const skipGrowing = (p: string): boolean => /\/(logs|etcd|registry)$/.test(p) || p.endsWith('.log') || /\.log\.\d/.test(p);

/** The files the footprint counts under `root`, for telling which ones a test left or took. */
export async function footprintFiles(root: string): Promise<string[]> {
  return listFiles(root, skipGrowing);
}

/** The lines (files, rules) added and removed between two listings, for a failure message. */
export function lineChanges(before: readonly string[], after: readonly string[], max = 30): string {
  const was = new Set(before);
  const is = new Set(after);
  const lines = [...after.filter((f) => !was.has(f)).map((f) => `+ ${f}`), ...before.filter((f) => !is.has(f)).map((f) => `- ${f}`)];
  return lines.length === 0 ? 'nothing added or removed' : [...lines.slice(0, max), ...(lines.length > max ? [`… and ${lines.length - max} more`] : [])].join('\n');
}

const kinds = [
  '/api/v1/pods', '/api/v1/configmaps', '/api/v1/secrets', '/api/v1/serviceaccounts', '/api/v1/namespaces', '/api/v1/nodes',
  '/apis/coordination.k8s.io/v1/leases', '/apis/node.k8s.io/v1/runtimeclasses', '/apis/networking.k8s.io/v1/networkpolicies',
];

async function stored(client: KubeClient, path: string): Promise<number> {
  return (await client.list(path)).items.length;
}

/**
 * The footprint of the cluster under `root` whose one node has the network namespace `nodeNetns`. Logs and etcd's
 * own files are left out of the file count: they grow by design (bounded by rotation and compaction).
 */
/** The nodes' containerd sockets under a cluster's run root. */
async function nodeSockets(root: string): Promise<string[]> {
  const dir = join(root, 'run', 'sockets');
  return (await readdir(dir).catch(() => [] as string[])).filter((f) => /-n\d+\.sock$/.test(f)).map((f) => join(dir, f));
}

/**
 * Runs each node's containerd garbage collection now. A removed container's snapshot directory goes at a collection;
 * containerd's scheduler drops a deletion whose event lands while a collection finishes (the container's record and
 * its snapshot are two writes), so the last pod's snapshot can wait for the next pod. A lease deleted with --sync
 * collects at once and touches nothing still referenced.
 */
async function collectGarbage(root: string): Promise<void> {
  for (const address of await nodeSockets(root)) {
    const id = `sandpod-footprint-${process.pid}`;
    await execText('ctr', ['--address', address, '-n', 'k8s.io', 'leases', 'create', '--id', id]);
    await execText('ctr', ['--address', address, '-n', 'k8s.io', 'leases', 'delete', '--sync', id]);
  }
}

export async function footprint(root: string, nodeNetns: string, client: KubeClient): Promise<Footprint> {
  await collectGarbage(root);
  // A `runc init` (a container created and never started) names the cluster only in its environment.
  const pids = await processesWhere(async (cmd, environ) => cmd.includes(root) || (await environ()).includes(root));
  const daemons = await processesWhere((cmd) => cmd.includes(root) && !cmd.startsWith('qemu-system') && !cmd.includes('shim'));
  let daemonFds = 0;
  for (const pid of daemons) daemonFds += (await readdir(`/proc/${pid}/fd`).catch(() => [])).length;
  const mountinfo = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n');
  const veths = (await execText('ip', ['-n', nodeNetns, '-o', 'link', 'show', 'master', 'cbr0'])).stdout.split('\n').filter((l) => l.trim() !== '').length;
  // The host's ruleset and the node's (Sandpod's tables live in the node's namespace): rules of deleted pods must go.
  const nft = (await nftRuleLines(nodeNetns)).length;
  let objects = 0;
  for (const k of kinds) objects += await stored(client, k);
  return {
    processes: pids.length,
    daemonFds,
    mounts: mountinfo.filter((l) => l.includes(root)).length,
    netns: mountinfo.filter((l) => l.includes(root) && l.includes(' - nsfs ')).length,
    veths,
    nftRules: nft,
    files: (await stat(root).then(async () => (await footprintFiles(root)).length, () => 0)),
    objects,
    events: await stored(client, '/api/v1/events'),
  };
}

/** The host's nftables ruleset and the node's (Sandpod's tables live in the node's namespace), one line per entry. */
export async function nftRuleLines(nodeNetns: string): Promise<string[]> {
  const lines = (text: string, where: string): string[] => text.split('\n').filter((l) => l.trim() !== '').map((l) => `${where}: ${l}`);
  return [
    ...lines((await execText('nft', ['list', 'ruleset'])).stdout, 'host'),
    ...lines((await execText('ip', ['netns', 'exec', nodeNetns, 'nft', 'list', 'ruleset'])).stdout, 'node'),
  ];
}

/** The keys that must come back exactly (open files of the daemons move by a few; events merge and expire). */
export const exactKeys: ReadonlyArray<keyof Footprint> = ['processes', 'mounts', 'netns', 'veths', 'nftRules', 'files', 'objects'];

/**
 * The footprint once the node is quiet: measured until two readings 2 s apart agree on every exact key. A pod the
 * API no longer lists may still have its sandbox, files and rules removed in the background for a moment, and a
 * baseline taken in that moment would count them.
 */
export async function settledFootprint(root: string, nodeNetns: string, client: KubeClient, timeoutMs = 60_000): Promise<Footprint> {
  const deadline = Date.now() + timeoutMs;
  let last = await footprint(root, nodeNetns, client);
  for (;;) {
    await new Promise((r) => setTimeout(r, 2000));
    const now = await footprint(root, nodeNetns, client);
    if (exactKeys.every((k) => now[k] === last[k])) return now;
    if (Date.now() > deadline) throw new Error(`the node did not settle before the test:\n${footprintTable(last, now)}`);
    last = now;
  }
}

/** The footprint as a table of before and after, for the test's output. */
export function footprintTable(before: Footprint, after: Footprint): string {
  const keys = Object.keys(before) as Array<keyof Footprint>;
  return keys.map((k) => `# ${k.padEnd(10)} before ${String(before[k]).padStart(6)}  after ${String(after[k]).padStart(6)}`).join('\n');
}

/** For a failure message: the pod sandboxes and containers the node's CRI still has (a leak's owner, by name). */
export async function whatCriHas(root: string): Promise<string> {
  const lines: string[] = [];
  for (const s of await nodeSockets(root)) {
    const cri = new CriClient(s, { timeoutMs: 10_000 });
    try {
      const [sandboxes, containers] = await Promise.all([cri.listPodSandbox({}), cri.listContainers({})]);
      for (const p of sandboxes.items) lines.push(`${s}: sandbox ${p.id} ${p.state} ${p.metadata?.namespace}/${p.metadata?.name} (${p.runtime_handler || 'runc'})`);
      for (const k of containers.containers) lines.push(`${s}: container ${k.id} ${k.state} ${k.metadata?.name} of sandbox ${k.pod_sandbox_id}`);
    } catch (err) {
      lines.push(`${s}: ${String(err)}`);
    } finally {
      cri.close();
    }
  }
  return lines.length === 0 ? 'CRI has no sandbox and no container' : lines.join('\n');
}
