/**
 * A node's own nftables tables, `inet sandpod` and `bridge sandpod`, in the node's network namespace: NetworkPolicy
 * for its pods and the pods' isolation from the node and the host. `renderRuleset` is a pure function from data to
 * the program `nft -f` loads; the program deletes and re-creates both tables in one transaction, so the kernel
 * switches from the old rules to the new ones atomically and nothing else of the namespace's ruleset is touched.
 *
 * How traffic meets the rules (pods are ports of the node's bridge; a VM pod's frames cross its veth like any pod's):
 * - bridge prerouting: a frame from a pod's port must be ARP or IPv4 from that pod's own address (no spoofing, no
 *   IPv6, no other ethertypes), and never to 127.0.0.0/8. Ports the node does not know yet (a sandbox being made) send
 *   nothing.
 * - inet forward (bridged traffic passes it through br_netfilter, routed traffic between nodes anyway): conntrack
 *   replies pass; a packet from a pod must go to a pod (no node, host or outside address); then the source pod's
 *   egress rules and the destination pod's ingress rules, each only for pods of this node that policies isolate.
 * - inet input: pods of this node and of every other node open nothing on the node; replies to what the node
 *   opened (probes, port-forward) pass.
 *
 * Every packet of a connection's original direction goes through the rules, not only its first: a policy change
 * that denies a connection stops it at once; replies ride on conntrack.
 */
import { runTool } from '../run-tool.js';
import type { Allow, PeerMatch, PodRules, PortMatch } from './network-policy.js';

export const TABLE = 'sandpod';

/** A pod's port on the node's bridge (the host side of its veth) and the one address it may send from. */
export interface PodPort { ifname: string; ip: string }

export interface NodeRuleset {
  /** The node's pod bridge. */
  bridge: string;
  /** Every node's pod CIDR: the only destinations of pods' traffic, and sources that may open nothing on a node. */
  podCidrs: readonly string[];
  /** The pods of this node, by port. */
  ports: readonly PodPort[];
  /** What the pods of this node admit (podRules). */
  pods: readonly PodRules[];
}

const quote = (s: string): string => `"${s.replace(/["\\]/g, '').slice(0, 120)}"`;
const set = (items: readonly string[]): string => `{ ${items.join(', ')} }`;
const elements = (items: readonly string[]): string => (items.length > 0 ? `\t\telements = ${set(items)}\n` : '');

function peerMatch(peers: PeerMatch, field: 'saddr' | 'daddr'): string[] {
  switch (peers.kind) {
    case 'any': return [];
    case 'addresses': return [`ip ${field} ${set(peers.addresses)}`];
    case 'block': return [`ip ${field} ${peers.cidr}`, ...(peers.except.length > 0 ? [`ip ${field} != ${set(peers.except)}`] : [])];
  }
}

/** One statement per protocol: `meta l4proto tcp` (all its ports) or with `th dport { … }`. */
function portMatches(ports: 'any' | PortMatch[]): string[][] {
  if (ports === 'any') return [[]];
  const byProtocol = new Map<string, Array<[number, number]> | 'all'>();
  for (const p of ports) {
    const have = byProtocol.get(p.protocol);
    if (!p.range || have === 'all') byProtocol.set(p.protocol, 'all');
    else byProtocol.set(p.protocol, [...(have ?? []), p.range]);
  }
  return [...byProtocol].sort(([a], [b]) => a.localeCompare(b)).map(([protocol, ranges]) => {
    const l4 = `meta l4proto ${protocol.toLowerCase()}`;
    if (ranges === 'all') return [l4];
    const items = [...new Set(ranges.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)))];
    return [l4, `th dport ${set(items)}`];
  });
}

function allowRules(allows: readonly Allow[], field: 'saddr' | 'daddr'): string[] {
  return allows.flatMap((a) => portMatches(a.ports).map((ports) => [...peerMatch(a.peers, field), ...ports, 'return', `comment ${quote(a.from)}`].join(' ')));
}

function chain(name: string, lines: readonly string[]): string {
  return `\tchain ${name} {\n${lines.map((l) => `\t\t${l}\n`).join('')}\t}\n`;
}

/** The nftables program for a node: both of Sandpod's tables, replaced as a whole. */
export function renderRuleset(r: NodeRuleset): string {
  const bridge = quote(r.bridge);
  const ports = [...new Set([...r.ports].sort((a, b) => a.ifname.localeCompare(b.ifname)).map((p) => `${quote(p.ifname)} . ${p.ip}`))];
  const ingress = r.pods.filter((p) => p.ingress);
  const egress = r.pods.filter((p) => p.egress);
  const dispatch = (field: 'saddr' | 'daddr', pods: readonly PodRules[], prefix: string): string[] =>
    pods.length === 0 ? [] : [`ip ${field} vmap ${set(pods.map((p, i) => `${p.ip} : jump ${prefix}_${i}`))}`];
  const podChains = (pods: readonly PodRules[], prefix: 'ingress' | 'egress'): string => pods.map((p, i) => chain(`${prefix}_${i}`, [
    ...allowRules((prefix === 'ingress' ? p.ingress : p.egress) ?? [], prefix === 'ingress' ? 'saddr' : 'daddr'),
    `drop comment ${quote(`${p.pod}: ${prefix} isolated`)}`,
  ])).join('');
  return [
    '#!/usr/sbin/nft -f',
    '# Sandpod: NetworkPolicy and host isolation for the pods of this node. Generated; replaced as a whole.',
    `table inet ${TABLE}`,
    `delete table inet ${TABLE}`,
    `table bridge ${TABLE}`,
    `delete table bridge ${TABLE}`,
    '',
    `table inet ${TABLE} {`,
    `\tset pod_cidrs {\n\t\ttype ipv4_addr\n\t\tflags interval\n\t\tauto-merge\n${elements([...new Set(r.podCidrs)].sort())}\t}\n`,
    chain('forward', [
      'type filter hook forward priority filter; policy accept;',
      'ct state invalid drop',
      'ct state related accept',
      'ct state established ct direction reply accept',
      `iifname ${bridge} ip daddr != @pod_cidrs drop comment "pods reach pods only: no node, host or outside address"`,
      ...dispatch('saddr', egress, 'egress'),
      ...dispatch('daddr', ingress, 'ingress'),
    ]),
    chain('input', [
      'type filter hook input priority filter; policy accept;',
      'ct state related accept',
      'ct state established ct direction reply accept',
      `iifname ${bridge} drop comment "pods open nothing on their node"`,
      'ip saddr @pod_cidrs drop comment "nor on any other node"',
    ]),
    podChains(egress, 'egress'),
    podChains(ingress, 'ingress'),
    '}',
    '',
    `table bridge ${TABLE} {`,
    `\tset pod_ports {\n\t\ttype ifname . ipv4_addr\n${elements(ports)}\t}\n`,
    chain('prerouting', [
      'type filter hook prerouting priority filter; policy drop;',
      'ether type arp iifname . arp saddr ip @pod_ports accept',
      'ether type ip ip daddr 127.0.0.0/8 drop comment "no loopback tricks"',
      'ether type ip iifname . ip saddr @pod_ports accept',
    ]),
    '}',
    '',
  ].join('\n');
}

/** The program that removes Sandpod's tables (and only them), whether or not they exist. */
export const deleteProgram = (): string =>
  [`table inet ${TABLE}`, `delete table inet ${TABLE}`, `table bridge ${TABLE}`, `delete table bridge ${TABLE}`, ''].join('\n');

/** Loads an nftables program in the current network namespace (the node agent runs in its node's), atomically. */
export async function applyNftProgram(program: string, object: string): Promise<void> {
  await runTool(object, 'nft', ['-f', '-'], { input: Buffer.from(program) });
}

/** Sandpod's tables as `nft list` prints them (empty when there are none), to compare states. */
export async function listSandpodTables(run: (args: string[]) => Promise<Buffer> = (args) => runTool('nftables', 'nft', args)): Promise<string> {
  const out: string[] = [];
  for (const family of ['inet', 'bridge']) out.push((await run(['list', 'table', family, TABLE]).catch(() => Buffer.from(''))).toString());
  return out.join('');
}
