/**
 * What a local cluster holds on this machine, counted the same way before and after a test that should leave
 * it as it found it (churn, faults): its processes and their open files, mounts, network namespaces, pod veths,
 * nftables rules (the host's and the node's), files under its roots, and the objects its API stores.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
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

async function countFiles(dir: string, skip: (path: string) => boolean): Promise<number> {
  let n = 0;
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const path = join(dir, e.name);
    if (skip(path)) continue;
    if (e.isDirectory()) n += await countFiles(path, skip);
    else n++;
  }
  return n;
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
export async function footprint(root: string, nodeNetns: string, client: KubeClient): Promise<Footprint> {
  const pids = await processesWhere((cmd) => cmd.includes(root));
  const daemons = await processesWhere((cmd) => cmd.includes(root) && !cmd.startsWith('qemu-system') && !cmd.includes('shim'));
  let daemonFds = 0;
  for (const pid of daemons) daemonFds += (await readdir(`/proc/${pid}/fd`).catch(() => [])).length;
  const mountinfo = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n');
  const veths = (await execText('ip', ['-n', nodeNetns, '-o', 'link', 'show', 'master', 'cbr0'])).stdout.split('\n').filter((l) => l.trim() !== '').length;
  // The host's ruleset and the node's (Sandpod's tables live in the node's namespace): rules of deleted pods must go.
  const lines = (text: string): number => text.split('\n').filter((l) => l.trim() !== '').length;
  const nft = lines((await execText('nft', ['list', 'ruleset'])).stdout) + lines((await execText('ip', ['netns', 'exec', nodeNetns, 'nft', 'list', 'ruleset'])).stdout);
  const skip = (p: string): boolean => /\/(logs|etcd|registry)$/.test(p) || p.endsWith('.log') || /\.log\.\d/.test(p);
  let objects = 0;
  for (const k of kinds) objects += await stored(client, k);
  return {
    processes: pids.length,
    daemonFds,
    mounts: mountinfo.filter((l) => l.includes(root)).length,
    netns: mountinfo.filter((l) => l.includes(root) && l.includes(' - nsfs ')).length,
    veths,
    nftRules: nft,
    files: (await stat(root).then(() => countFiles(root, skip), () => 0)),
    objects,
    events: await stored(client, '/api/v1/events'),
  };
}

/** The footprint as a table of before and after, for the test's output. */
export function footprintTable(before: Footprint, after: Footprint): string {
  const keys = Object.keys(before) as Array<keyof Footprint>;
  return keys.map((k) => `# ${k.padEnd(10)} before ${String(before[k]).padStart(6)}  after ${String(after[k]).padStart(6)}`).join('\n');
}
