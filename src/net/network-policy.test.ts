import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NetworkPolicySpec } from '../kube/index.js';
import { admits, podRules, type ClusterPolicyState, type PolicyObject, type PolicyPod, type Protocol } from './network-policy.js';

// The upstream e2e suite's cluster: pods a, b, c in namespaces x, y, z, each serving TCP and UDP on 80 and 81 under
// the names serve-<port>-<protocol>.
const namespaces = ['x', 'y', 'z'];
const names = ['a', 'b', 'c'];
const pod = (ns: string, name: string, labels: Record<string, string> = { pod: name }): PolicyPod => ({
  namespace: ns, name, labels, ip: `10.244.${namespaces.indexOf(ns)}.${names.indexOf(name) + 10}`,
  ports: [80, 81].flatMap((port) => (['TCP', 'UDP'] as const).map((protocol) => ({ name: `serve-${port}-${protocol.toLowerCase()}`, port, protocol }))),
});
const allPods = namespaces.flatMap((ns) => names.map((n) => pod(ns, n)));
const nsObjects = namespaces.map((name) => ({ name, labels: { ns: name } }));
const ipOf = (key: string): string => allPods.find((p) => `${p.namespace}/${p.name}` === key)!.ip;
const keys = allPods.map((p) => `${p.namespace}/${p.name}`);

const policy = (namespace: string, name: string, spec: NetworkPolicySpec): PolicyObject => ({ namespace, name, spec });

/**
 * The whole matrix: from → to, as "X" (admitted) or "." (not), one line per source, like upstream's printout. A pod's
 * traffic to itself never leaves it ("a pod cannot block access to itself"): the diagonal is X, as upstream's
 * AllowLoopback has it.
 */
function matrix(state: ClusterPolicyState, protocol: Protocol, port?: number): string {
  const rules = new Map(podRules(state, state.pods).map((r) => [r.pod, r]));
  return keys.map((from) => `${from} ${keys.map((to) => {
    if (from === to) return 'X';
    const out = admits(rules.get(from)!, 'Egress', ipOf(to), protocol, port);
    const into = admits(rules.get(to)!, 'Ingress', ipOf(from), protocol, port);
    return out && into ? 'X' : '.';
  }).join('')}`).join('\n');
}

/** The expected matrix from a predicate. */
const expect = (ok: (from: string, to: string) => boolean): string =>
  keys.map((from) => `${from} ${keys.map((to) => (from === to || ok(from, to) ? 'X' : '.')).join('')}`).join('\n');

const state = (policies: PolicyObject[], pods = allPods, nss = nsObjects): ClusterPolicyState => ({ policies, pods, namespaces: nss });

test('no policy: everything reaches everything, on every protocol', () => {
  for (const [proto, port] of [['TCP', 80], ['UDP', 81], ['SCTP', 80], ['ICMP', undefined]] as const) {
    assert.equal(matrix(state([]), proto, port), expect(() => true));
  }
});

test('default-deny ingress isolates a namespace\'s pods from everyone but themselves', () => {
  const s = state([policy('x', 'deny', { podSelector: {}, policyTypes: ['Ingress'] })]);
  assert.equal(matrix(s, 'TCP', 80), expect((_, to) => !to.startsWith('x/')));
  assert.equal(matrix(s, 'ICMP'), expect((_, to) => !to.startsWith('x/')), 'ping too');
});

test('default-deny egress (policyTypes defaulted from a policy with egress rules only counts when given)', () => {
  const s = state([policy('x', 'deny', { podSelector: {}, policyTypes: ['Egress'] })]);
  assert.equal(matrix(s, 'UDP', 80), expect((from) => !from.startsWith('x/')));
  // Without policyTypes and without egress rules a policy is Ingress only: egress stays open.
  const ingressOnly = state([policy('x', 'p', { podSelector: {} })]);
  assert.equal(matrix(ingressOnly, 'TCP', 80), expect((_, to) => !to.startsWith('x/')));
  // With egress rules and no policyTypes it is both.
  const both = state([policy('x', 'p', { podSelector: {}, egress: [{ to: [{ podSelector: {} }] }] })]);
  assert.equal(matrix(both, 'TCP', 80), expect((from, to) => !to.startsWith('x/') && (!from.startsWith('x/') || to.startsWith('x/'))));
});

test('allow from a namespace, and from a pod in a namespace (both selectors in one peer) versus two peers', () => {
  const fromY = state([policy('x', 'from-y', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }] }] })]);
  assert.equal(matrix(fromY, 'TCP', 80), expect((from, to) => to !== 'x/a' || from.startsWith('y/')));
  const combined = state([policy('x', 'yb', {
    podSelector: { matchLabels: { pod: 'a' } },
    ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } }, podSelector: { matchLabels: { pod: 'b' } } }] }],
  })]);
  assert.equal(matrix(combined, 'TCP', 80), expect((from, to) => to !== 'x/a' || from === 'y/b'));
  const separate = state([policy('x', 'y-or-b', {
    podSelector: { matchLabels: { pod: 'a' } },
    ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }, { podSelector: { matchLabels: { pod: 'b' } } }] }],
  })]);
  assert.equal(matrix(separate, 'TCP', 80), expect((from, to) => to !== 'x/a' || from.startsWith('y/') || from === 'x/b'));
  // The automatic name label selects a namespace by name, stored with it or not.
  const byName = state([policy('x', 'z', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'z' } } }] }] })]);
  assert.equal(matrix(byName, 'TCP', 80), expect((from, to) => to !== 'x/a' || from.startsWith('z/')));
});

test('ipBlock with except, for ingress and egress; IPv6 blocks match no IPv4 pod', () => {
  const s = state([policy('x', 'block', {
    podSelector: { matchLabels: { pod: 'a' } }, policyTypes: ['Ingress'],
    ingress: [{ from: [{ ipBlock: { cidr: '10.244.0.0/16', except: [`${ipOf('y/b')}/32`, '10.244.2.0/24'] } }] }],
  })]);
  assert.equal(matrix(s, 'TCP', 80), expect((from, to) => to !== 'x/a' || (from !== 'y/b' && !from.startsWith('z/'))));
  const egress = state([policy('x', 'block', {
    podSelector: { matchLabels: { pod: 'a' } }, policyTypes: ['Egress'],
    egress: [{ to: [{ ipBlock: { cidr: '10.244.1.0/24', except: [`${ipOf('y/c')}/32`] } }, { ipBlock: { cidr: '::/0' } }] }],
  })]);
  assert.equal(matrix(egress, 'UDP', 81), expect((from, to) => from !== 'x/a' || (to.startsWith('y/') && to !== 'y/c')));
});

test('named ports resolve on the pod that owns them; endPort makes a range; a rule with ports admits no ICMP', () => {
  const named = state([policy('x', 'named', { podSelector: {}, ingress: [{ ports: [{ port: 'serve-81-tcp' }] }] })]);
  assert.equal(matrix(named, 'TCP', 81), expect(() => true));
  assert.equal(matrix(named, 'TCP', 80), expect((_, to) => !to.startsWith('x/')));
  assert.equal(matrix(named, 'UDP', 81), expect((_, to) => !to.startsWith('x/')), 'the name is TCP\'s');
  assert.equal(matrix(named, 'ICMP'), expect((_, to) => !to.startsWith('x/')));
  const range = state([policy('x', 'range', { podSelector: {}, ingress: [{ ports: [{ protocol: 'UDP', port: 81, endPort: 90 }] }] })]);
  assert.equal(matrix(range, 'UDP', 81), expect(() => true));
  assert.equal(matrix(range, 'UDP', 80), expect((_, to) => !to.startsWith('x/')));
  assert.equal(matrix(range, 'TCP', 81), expect((_, to) => !to.startsWith('x/')));
  // Egress named ports resolve on each destination: a pod without the name is not reached by it.
  const renamed = allPods.map((p) => (p.namespace === 'y' && p.name === 'c' ? { ...p, ports: [] } : p));
  const egress = state([policy('x', 'out', { podSelector: {}, policyTypes: ['Egress'], egress: [{ ports: [{ port: 'serve-80-tcp' }] }] })], renamed);
  assert.equal(matrix(egress, 'TCP', 80), expect((from, to) => !from.startsWith('x/') || to !== 'y/c'));
  assert.equal(matrix(egress, 'TCP', 81), expect((from) => !from.startsWith('x/')));
  // A named port no pod has admits nothing (not everything).
  const unknown = state([policy('x', 'nothing', { podSelector: {}, ingress: [{ ports: [{ port: 'no-such-port' }] }] })]);
  assert.equal(matrix(unknown, 'TCP', 80), expect((_, to) => !to.startsWith('x/')));
});

test('egress to one pod only, and deny-all then allow one port: the union of the policies', () => {
  const one = state([policy('x', 'to-b', { podSelector: { matchLabels: { pod: 'a' } }, policyTypes: ['Egress'], egress: [{ to: [{ podSelector: { matchLabels: { pod: 'b' } } }] }] })]);
  assert.equal(matrix(one, 'TCP', 80), expect((from, to) => from !== 'x/a' || to === 'x/b'));
  const deny = policy('x', 'deny', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
  const allow81 = policy('x', 'allow-81', { podSelector: {}, policyTypes: ['Ingress', 'Egress'], ingress: [{ ports: [{ port: 81 }] }], egress: [{ ports: [{ port: 81 }] }] });
  assert.equal(matrix(state([deny, allow81]), 'TCP', 81), expect(() => true));
  assert.equal(matrix(state([deny, allow81]), 'TCP', 80), expect((from, to) => !from.startsWith('x/') && !to.startsWith('x/')));
  assert.equal(matrix(state([deny]), 'TCP', 81), expect((from, to) => !from.startsWith('x/') && !to.startsWith('x/')), 'deleting the allow closes it again');
});

test('a pod or namespace relabelled into or out of a selector changes what it admits', () => {
  const p = policy('x', 'web', { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'blue' } } }] }] });
  assert.equal(matrix(state([p]), 'TCP', 80), expect(() => true), 'no pod is web yet');
  const relabelled = allPods.map((q) => (q.namespace === 'x' && q.name === 'b' ? { ...q, labels: { pod: 'b', app: 'web' } } : q));
  assert.equal(matrix(state([p], relabelled), 'TCP', 80), expect((_, to) => to !== 'x/b'));
  const blueZ = nsObjects.map((n) => (n.name === 'z' ? { name: 'z', labels: { ns: 'z', team: 'blue' } } : n));
  assert.equal(matrix(state([p], relabelled, blueZ), 'TCP', 80), expect((from, to) => to !== 'x/b' || from.startsWith('z/')));
});

test('rules carry where they come from, and hold addresses, not pods', () => {
  const [rules] = podRules(state([policy('x', 'from-b', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b' } } }], ports: [{ port: 80 }, { protocol: 'SCTP' }] }] })]), [pod('x', 'a')]);
  assert.deepEqual(rules, {
    pod: 'x/a', ip: ipOf('x/a'),
    ingress: [{ peers: { kind: 'addresses', addresses: [ipOf('x/b')] }, ports: [{ protocol: 'TCP', range: [80, 80] }, { protocol: 'SCTP' }], from: 'x/from-b ingress[0]' }],
  });
});
