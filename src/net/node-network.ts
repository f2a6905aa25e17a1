/**
 * The networks of a cluster's nodes on one machine, each in network namespaces Sandpod creates:
 *
 *   host netns                 switch netns `sandpod-<key>`          node netns `sandpod-<key>-n<i>`
 *   spc<key> 10.224.K.1/24 ── host ┐                                  eth0 10.224.K.(4+i)/24
 *                                   br0 ── n<i> ──────────────────────┘  cbr0 <pod CIDR gateway> ── pods (CNI)
 *
 * The switch is a bridge in a namespace of its own, so traffic between nodes never passes the host's bridge
 * netfilter or firewall. The host side holds the cluster's host address, where the API server and registry listen
 * for the nodes. Each node forwards IPv4 in its own namespace and routes every other node's pod CIDR via that
 * node's address: pods reach pods on any node by their IPs, without NAT. Nothing has a default route, and a rule in
 * each node stops pods reaching the host address (the host has no route back to pod CIDRs and would answer through
 * its default route); nothing leaves the machine and the host's own forwarding settings are never touched.
 */
import { readdir } from 'node:fs/promises';
import { z } from 'zod';
import { describeError, SandpodError } from '../errors.js';
import { runTool } from '../run-tool.js';
import { deleteProgram } from './nftables.js';

export const NETNS_DIR = '/run/netns';
/** kubenet's name for a node's pod bridge; every node has its own, inside its namespace. */
export const POD_BRIDGE = 'cbr0';
/** The routing protocol number of the pod routes Sandpod adds to nodes (so only those are synced). */
const ROUTE_PROTO = '200';
const RULE_PREF = '100';

export const clusterNetnsName = (key: string): string => `sandpod-${key}`;
export const nodeNetnsName = (key: string, index: number): string => `sandpod-${key}-n${index}`;
export const hostInterfaceName = (key: string): string => `spc${key}`;
export const netnsPath = (name: string): string => `${NETNS_DIR}/${name}`;

const ip = (object: string, args: string[]): Promise<Buffer> => runTool(object, 'ip', args);
const ipIn = (netns: string, args: string[]): Promise<Buffer> => runTool(`netns/${netns}`, 'ip', ['-n', netns, ...args]);
/** A command inside a network namespace only (the mount namespace stays the host's, unlike `ip netns exec`). */
export const inNamespace = (netns: string, cmd: string, args: string[]): Promise<Buffer> =>
  runTool(`netns/${netns}`, 'nsenter', [`--net=${netnsPath(netns)}`, '--', cmd, ...args]);

/** The command line that runs `argv` inside the node's network namespace (for daemons started detached). */
export const netnsCommand = (netns: string, argv: string[]): string[] => ['nsenter', `--net=${netnsPath(netns)}`, '--', ...argv];

async function netnsExists(name: string): Promise<boolean> {
  return (await readdir(NETNS_DIR).catch(() => [] as string[])).includes(name);
}

async function linkExists(object: string, args: string[]): Promise<boolean> {
  return ip(object, args).then(() => true, () => false);
}

/** The network namespaces of a cluster that exist now (its switch and nodes). */
export async function clusterNamespaces(key: string): Promise<string[]> {
  const prefix = clusterNetnsName(key);
  return (await readdir(NETNS_DIR).catch(() => [] as string[])).filter((n) => n === prefix || n.startsWith(`${prefix}-n`)).sort();
}

export interface ClusterNetworkSpec {
  key: string;
  /** The node network, a /24. */
  nodeNetwork: string;
  /** The host's address on it (the API server and registry listen there for the nodes). */
  hostAddress: string;
}

/** Creates what is missing of the cluster's switch and the host's port on it. */
export async function ensureClusterNetwork(spec: ClusterNetworkSpec): Promise<void> {
  const sw = clusterNetnsName(spec.key);
  const hostIf = hostInterfaceName(spec.key);
  const object = `cluster-network/${spec.key}`;
  if (!(await netnsExists(sw))) await ip(object, ['netns', 'add', sw]);
  await ipIn(sw, ['link', 'set', 'lo', 'up']);
  if (!(await linkExists(object, ['-n', sw, 'link', 'show', 'br0']))) await ipIn(sw, ['link', 'add', 'br0', 'type', 'bridge']);
  await ipIn(sw, ['link', 'set', 'br0', 'up']);
  if (!(await linkExists(object, ['link', 'show', hostIf]))) {
    await ip(object, ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', 'host', 'netns', sw]);
  }
  await ipIn(sw, ['link', 'set', 'host', 'master', 'br0', 'up']);
  const prefix = spec.nodeNetwork.split('/')[1] ?? '24';
  const addrs = (await ip(object, ['-4', '-o', 'addr', 'show', 'dev', hostIf])).toString();
  if (!addrs.includes(` ${spec.hostAddress}/`)) await ip(object, ['addr', 'add', `${spec.hostAddress}/${prefix}`, 'dev', hostIf]);
  await ip(object, ['link', 'set', hostIf, 'up']);
}

/** Removes the host's port and the switch; every node's namespace must be gone first (see removeNodeNetwork). */
export async function removeClusterNetwork(key: string): Promise<void> {
  await ip(`cluster-network/${key}`, ['link', 'delete', hostInterfaceName(key)]).catch(() => undefined);
  if (await netnsExists(clusterNetnsName(key))) await ip(`cluster-network/${key}`, ['netns', 'delete', clusterNetnsName(key)]);
}

export interface NodeNetworkSpec {
  key: string;
  index: number;
  /** The node's address on the node network and its prefix length. */
  address: string;
  prefix: number;
  hostAddress: string;
  /** The node's pod CIDR and the pod bridge's address in it (the pods' gateway). */
  podCidr: string;
  gateway: string;
}

/** Creates what is missing of a node's namespace: its port on the switch, its address, forwarding and pod bridge. */
export async function ensureNodeNetwork(spec: NodeNetworkSpec): Promise<string> {
  const ns = nodeNetnsName(spec.key, spec.index);
  const sw = clusterNetnsName(spec.key);
  const port = `n${spec.index}`;
  const object = `node-network/${ns}`;
  if (!(await netnsExists(ns))) await ip(object, ['netns', 'add', ns]);
  await ipIn(ns, ['link', 'set', 'lo', 'up']);
  if (!(await linkExists(object, ['-n', ns, 'link', 'show', 'eth0']))) {
    await ipIn(sw, ['link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
  }
  await ipIn(sw, ['link', 'set', port, 'master', 'br0', 'up']);
  const addrs = (await ipIn(ns, ['-4', '-o', 'addr', 'show'])).toString();
  if (!addrs.includes(` ${spec.address}/`)) await ipIn(ns, ['addr', 'add', `${spec.address}/${spec.prefix}`, 'dev', 'eth0']);
  await ipIn(ns, ['link', 'set', 'eth0', 'up']);
  // Forwarding in this namespace only: the node routes between its pods and the other nodes.
  await inNamespace(ns, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
  // Frames bridged between two pods of the node pass the inet hooks (and conntrack) too, so NetworkPolicy holds for
  // them as for routed ones: br_netfilter's switch, per namespace, set in this one only.
  await inNamespace(ns, 'sysctl', ['-qw', 'net.bridge.bridge-nf-call-iptables=1']).catch((err: unknown) => {
    throw new SandpodError('Unavailable', `cannot make bridged pod traffic pass the node's firewall (${describeError(err)}): the kernel's bridge netfilter (br_netfilter) is needed to enforce NetworkPolicy between pods of one node; load it with "modprobe br_netfilter"`, { object: `node-network/${ns}` });
  });
  if (!(await linkExists(object, ['-n', ns, 'link', 'show', POD_BRIDGE]))) await ipIn(ns, ['link', 'add', POD_BRIDGE, 'type', 'bridge']);
  const podPrefix = spec.podCidr.split('/')[1] ?? '24';
  if (!addrs.includes(` ${spec.gateway}/`)) await ipIn(ns, ['addr', 'add', `${spec.gateway}/${podPrefix}`, 'dev', POD_BRIDGE]);
  await ipIn(ns, ['link', 'set', POD_BRIDGE, 'up']);
  const rules = (await ipIn(ns, ['rule', 'show', 'pref', RULE_PREF])).toString();
  if (!rules.includes(spec.hostAddress)) {
    await ipIn(ns, ['rule', 'add', 'pref', RULE_PREF, 'iif', POD_BRIDGE, 'to', `${spec.hostAddress}/32`, 'prohibit']);
  }
  return ns;
}

/**
 * Removes a node's namespace; its port on the switch, its pod bridge and Sandpod's nftables tables in it go with it
 * (the tables are deleted first, so none outlives the namespace in a process that still holds it).
 */
export async function removeNodeNetwork(key: string, index: number): Promise<void> {
  const ns = nodeNetnsName(key, index);
  if (!(await netnsExists(ns))) return;
  await runTool(`node-network/${ns}`, 'nsenter', [`--net=${netnsPath(ns)}`, '--', 'nft', '-f', '-'], { input: Buffer.from(deleteProgram()) });
  await ip(`node-network/${ns}`, ['netns', 'delete', ns]);
}

export interface RoutedNode {
  netns: string;
  address: string;
  podCidr: string;
}

const routeJson = z.array(z.object({ dst: z.string(), gateway: z.string().optional() }).passthrough());

/**
 * Gives every node a route to every other node's pod CIDR through that node, and removes routes to nodes that are
 * gone. Only routes Sandpod added (its protocol number) are touched.
 */
export async function syncPodRoutes(nodes: readonly RoutedNode[]): Promise<void> {
  for (const node of nodes) {
    const want = new Map(nodes.filter((n) => n !== node).map((n) => [n.podCidr, n.address]));
    const have = routeJson.parse(JSON.parse((await ipIn(node.netns, ['-j', '-4', 'route', 'show', 'proto', ROUTE_PROTO])).toString() || '[]'));
    for (const r of have) {
      if (want.get(r.dst) !== r.gateway) await ipIn(node.netns, ['route', 'delete', r.dst, 'proto', ROUTE_PROTO]).catch(() => undefined);
    }
    for (const [dst, via] of want) {
      if (!have.some((r) => r.dst === dst && r.gateway === via)) await ipIn(node.netns, ['route', 'replace', dst, 'via', via, 'proto', ROUTE_PROTO]);
    }
  }
}

export interface HostRoute { dst: string; dev?: string | undefined }

/** The host's IPv4 routes (every table, local addresses included), to choose a node network nothing else uses. */
export async function hostIpv4Routes(): Promise<HostRoute[]> {
  const routes = z.array(z.object({ dst: z.string(), dev: z.string().optional() }).passthrough())
    .parse(JSON.parse((await ip('host', ['-j', '-4', 'route', 'show', 'table', 'all'])).toString() || '[]'));
  return routes.filter((r) => r.dst !== 'default').map((r) => ({ dst: r.dst, dev: r.dev }));
}
