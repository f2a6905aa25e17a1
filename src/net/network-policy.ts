/**
 * NetworkPolicy semantics as data: which traffic each pod of a node admits, computed from the cluster's policies,
 * pods and namespaces (networking.k8s.io/v1, as the upstream network-policy e2e suite checks it). Pure: no kernel,
 * no API; `renderRuleset` (nftables.ts) turns the result into the node's nftables program.
 *
 * - A pod selected by no policy of a direction is not isolated in it: everything passes.
 * - A pod selected for a direction admits the union of the rules of every policy that selects it for that direction.
 * - A rule without peers admits any peer, one without ports any port and any protocol (ICMP included); a rule with
 *   ports admits only TCP, UDP or SCTP to those ports. Named ports resolve on the pod that owns them: for ingress
 *   the selected pod, for egress each destination pod (an address that is no pod never matches a named port).
 * - Replies to admitted connections are the conntrack rules' business, not this module's.
 */
import { BlockList } from 'node:net';
import {
  labelSelectorRequirements, matchesLabels, parseCidrText, policyTypesOf,
  type LabelSelector, type NetworkPolicyPeer, type NetworkPolicyPort, type NetworkPolicySpec, type PolicyProtocol, type PolicyType,
} from '../kube/index.js';

/** The label every namespace carries with its name (kube-apiserver sets it; added here for namespaces stored without). */
const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

export interface PolicyPodPort { name?: string | undefined; port: number; protocol: PolicyProtocol }

/** A pod as policies see it: its identity, labels, address and named ports. */
export interface PolicyPod {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  ip: string;
  ports: PolicyPodPort[];
}

export interface PolicyNamespace { name: string; labels: Record<string, string> }

export interface PolicyObject { namespace: string; name: string; spec: NetworkPolicySpec }

export interface ClusterPolicyState {
  policies: readonly PolicyObject[];
  namespaces: readonly PolicyNamespace[];
  /** Every pod of the cluster with an address (peers may be on any node). */
  pods: readonly PolicyPod[];
}

/** Ports a rule admits: one protocol, and a range of ports or (no range) all of them. */
export interface PortMatch { protocol: PolicyProtocol; range?: [number, number] }

/** Peers a rule admits: any address, a set of addresses (pods), or an IPv4 block with holes. */
export type PeerMatch = { kind: 'any' } | { kind: 'addresses'; addresses: string[] } | { kind: 'block'; cidr: string; except: string[] };

/** One way in (or out): these peers on these ports; `ports: 'any'` also admits protocols without ports (ICMP). */
export interface Allow { peers: PeerMatch; ports: 'any' | PortMatch[]; from: string }

/** What a pod admits. A direction that is undefined is not isolated. */
export interface PodRules {
  /** `namespace/name`. */
  pod: string;
  ip: string;
  ingress?: Allow[];
  egress?: Allow[];
}

const podKey = (p: Pick<PolicyPod, 'namespace' | 'name'>): string => `${p.namespace}/${p.name}`;

const selects = (sel: LabelSelector | null | undefined, labels: Record<string, string>): boolean =>
  matchesLabels(labelSelectorRequirements(sel ?? {}), labels);

/** The pods a peer names (podSelector and namespaceSelector, alone or together), or its address block. */
function resolvePeer(peer: NetworkPolicyPeer, policyNamespace: string, state: ClusterPolicyState, nsLabels: Map<string, Record<string, string>>): PeerMatch | PolicyPod[] {
  if (peer.ipBlock) {
    const cidr = parseCidrText(peer.ipBlock.cidr);
    // Pods and nodes are IPv4 only: an IPv6 block can match nothing here.
    if (!cidr || cidr.family !== 'ipv4') return [];
    const except = (peer.ipBlock.except ?? []).map(parseCidrText).filter((c) => c?.family === 'ipv4').map((c) => `${c!.address}/${c!.prefix}`);
    return { kind: 'block', cidr: `${cidr.address}/${cidr.prefix}`, except };
  }
  return state.pods.filter((p) => {
    const inNamespace = peer.namespaceSelector ? selects(peer.namespaceSelector, nsLabels.get(p.namespace) ?? {}) : p.namespace === policyNamespace;
    return inNamespace && (!peer.podSelector || selects(peer.podSelector, p.labels));
  });
}

/** A policy port as matches: numbers and ranges as they are, a name looked up among `owner`'s ports. */
function portMatch(port: NetworkPolicyPort, owner: PolicyPod | undefined): PortMatch | undefined {
  const protocol = (port.protocol ?? 'TCP') as PolicyProtocol;
  if (port.port === undefined) return { protocol };
  if (typeof port.port === 'number') return { protocol, range: [port.port, port.endPort ?? port.port] };
  const named = owner?.ports.find((p) => p.name === port.port && p.protocol === protocol);
  return named ? { protocol, range: [named.port, named.port] } : undefined;
}

function inBlock(ip: string, block: { cidr: string; except: string[] }): boolean {
  const within = (cidr: string): boolean => {
    const c = parseCidrText(cidr);
    if (!c) return false;
    const list = new BlockList();
    list.addSubnet(c.address, c.prefix, c.family);
    return list.check(ip, 'ipv4');
  };
  return within(block.cidr) && !block.except.some(within);
}

/**
 * One rule's allows for `pod` in `direction`. Ingress ports resolve on the pod itself; egress named ports on each
 * destination pod, so they become allows of their own, one per destination that has the name.
 */
function ruleAllows(
  pod: PolicyPod, direction: PolicyType, peers: NetworkPolicyPeer[] | null | undefined, ports: NetworkPolicyPort[] | null | undefined,
  policy: PolicyObject, from: string, state: ClusterPolicyState, nsLabels: Map<string, Record<string, string>>,
): Allow[] {
  const resolved: Array<PeerMatch | PolicyPod[]> = peers && peers.length > 0
    ? peers.map((p) => resolvePeer(p, policy.namespace, state, nsLabels))
    : [{ kind: 'any' }];
  const matches: PeerMatch[] = [];
  const pods = new Map<string, PolicyPod>();
  for (const r of resolved) {
    if (Array.isArray(r)) for (const p of r) pods.set(p.ip, p);
    else matches.push(r);
  }
  if (pods.size > 0) matches.push({ kind: 'addresses', addresses: [...pods.keys()].sort() });
  if (!ports || ports.length === 0) return matches.map((peers) => ({ peers, ports: 'any', from }));
  if (direction === 'Ingress') {
    const resolvedPorts = ports.map((p) => portMatch(p, pod)).filter((p): p is PortMatch => p !== undefined);
    return resolvedPorts.length === 0 ? [] : matches.map((peers) => ({ peers, ports: resolvedPorts, from }));
  }
  const numeric = ports.filter((p) => typeof p.port !== 'string').map((p) => portMatch(p, undefined)!);
  const out: Allow[] = numeric.length > 0 ? matches.map((peers) => ({ peers, ports: numeric, from })) : [];
  const named = ports.filter((p) => typeof p.port === 'string');
  if (named.length > 0) {
    // The destinations a named port can resolve on: the peers' pods, and the pods inside their blocks (or every pod).
    const destinations = state.pods.filter((p) => matches.some((m) => m.kind === 'any' || (m.kind === 'addresses' ? m.addresses.includes(p.ip) : inBlock(p.ip, m))));
    for (const dest of [...destinations].sort((a, b) => a.ip.localeCompare(b.ip))) {
      const destPorts = named.map((p) => portMatch(p, dest)).filter((p): p is PortMatch => p !== undefined);
      if (destPorts.length > 0) out.push({ peers: { kind: 'addresses', addresses: [dest.ip] }, ports: destPorts, from });
    }
  }
  return out;
}

/** What each of `localPods` admits, from the cluster's policies (every pod must have an address). */
export function podRules(state: ClusterPolicyState, localPods: readonly PolicyPod[]): PodRules[] {
  const nsLabels = new Map(state.namespaces.map((n) => [n.name, { ...n.labels, [NAMESPACE_NAME_LABEL]: n.name }]));
  for (const p of state.pods) if (!nsLabels.has(p.namespace)) nsLabels.set(p.namespace, { [NAMESPACE_NAME_LABEL]: p.namespace });
  const policies = [...state.policies].sort((a, b) => podKey(a).localeCompare(podKey(b)));
  return [...localPods].sort((a, b) => a.ip.localeCompare(b.ip) || podKey(a).localeCompare(podKey(b))).map((pod) => {
    const rules: PodRules = { pod: podKey(pod), ip: pod.ip };
    for (const policy of policies) {
      if (policy.namespace !== pod.namespace || !selects(policy.spec.podSelector, pod.labels)) continue;
      const types = policyTypesOf(policy.spec);
      if (types.includes('Ingress')) {
        rules.ingress ??= [];
        (policy.spec.ingress ?? []).forEach((r, i) => rules.ingress!.push(...ruleAllows(pod, 'Ingress', r.from, r.ports, policy, `${podKey(policy)} ingress[${i}]`, state, nsLabels)));
      }
      if (types.includes('Egress')) {
        rules.egress ??= [];
        (policy.spec.egress ?? []).forEach((r, i) => rules.egress!.push(...ruleAllows(pod, 'Egress', r.to, r.ports, policy, `${podKey(policy)} egress[${i}]`, state, nsLabels)));
      }
    }
    return rules;
  });
}

/** Protocols by the names the rules use; anything else (ICMP, …) passes only rules without ports. */
export type Protocol = PolicyProtocol | 'ICMP';

/**
 * Whether `rules` admit a packet from (ingress) or to (egress) `peer` with this protocol and destination port: the
 * semantics the generated ruleset enforces, for tests and diagnostics.
 */
export function admits(rules: PodRules, direction: PolicyType, peer: string, protocol: Protocol, port?: number): boolean {
  const allows = direction === 'Ingress' ? rules.ingress : rules.egress;
  if (!allows) return true;
  return allows.some((a) => {
    const peerOk = a.peers.kind === 'any' || (a.peers.kind === 'addresses' ? a.peers.addresses.includes(peer) : inBlock(peer, a.peers));
    if (!peerOk) return false;
    if (a.ports === 'any') return true;
    return a.ports.some((m) => m.protocol === protocol && (!m.range || (port !== undefined && port >= m.range[0] && port <= m.range[1])));
  });
}
