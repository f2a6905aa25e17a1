/**
 * What a cluster can leave on this machine, looked for by the tests that start clusters: processes and mounts under
 * the test's root, the cluster's network namespaces (`sandpod-<key>…`) and the host's port on its node network
 * (`spc<key>`), and nftables tables; plus the host's IPv4 forwarding, which nothing may change.
 */
import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { ClusterStore, type ClusterId } from '../../src/cluster/index.js';
import { resolvePaths } from '../../src/paths.js';
import { execText } from './local-cluster.js';
import { processesWhere } from './helpers.js';

export const hostForwarding = (): string => readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();

export const nftTables = async (): Promise<string> => (await execText('nft', ['list', 'tables'])).stdout.trim();

/** The cluster's short name on this machine (its namespaces, interface and sockets carry it). */
export function clusterKey(stateRoot: string, id: ClusterId): string {
  return new ClusterStore(resolvePaths({ stateRoot })).key(id);
}

/** Everything of a cluster still on this machine: empty when it left nothing. */
export async function clusterTraces(root: string, key: string): Promise<string[]> {
  const namespaces = (await readdir('/run/netns').catch(() => [] as string[])).filter((n) => n.startsWith(`sandpod-${key}`));
  const link = (await execText('ip', ['-o', 'link', 'show', `spc${key}`])).stdout.trim();
  return [
    ...(await processesWhere((cmd) => cmd.includes(root))).map((p) => `process ${p}: ${readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ').slice(0, 120)}`),
    ...(await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.includes(root)).map((l) => `mount ${l.split(' ')[4]}`),
    ...namespaces.map((n) => `network namespace ${n}`),
    ...(link ? [`host interface spc${key}`] : []),
  ];
}
