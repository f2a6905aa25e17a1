import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkNetworkPolicySpec, defaultNetworkPolicySpec, networkPolicySpecSchema, parseCidrText, policyTypesOf, portNameProblems, strictSubset, type NetworkPolicySpec } from './network-policy.js';

const errors = (spec: unknown): string[] => checkNetworkPolicySpec(networkPolicySpecSchema.parse(spec)).map((e) => `${e.field}: ${e.detail}`);

test('policyTypes default as kube-apiserver defaults them, and ports default to TCP', () => {
  assert.deepEqual(policyTypesOf({}), ['Ingress']);
  assert.deepEqual(policyTypesOf({ egress: [{}] }), ['Ingress', 'Egress']);
  assert.deepEqual(policyTypesOf({ policyTypes: ['Egress'], egress: [] }), ['Egress']);
  const spec: NetworkPolicySpec = { egress: [{ ports: [{ port: 53 }, { protocol: 'UDP', port: 53 }] }] };
  defaultNetworkPolicySpec(spec);
  assert.deepEqual(spec, { podSelector: {}, policyTypes: ['Ingress', 'Egress'], egress: [{ ports: [{ port: 53, protocol: 'TCP' }, { protocol: 'UDP', port: 53 }] }] });
});

test('valid policies have no errors', () => {
  assert.deepEqual(errors({
    podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['web'] }] }, policyTypes: ['Ingress', 'Egress'],
    ingress: [{ from: [{ namespaceSelector: {}, podSelector: { matchLabels: { role: 'db' } } }, { ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] } }], ports: [{ port: 'http' }, { port: 80, endPort: 90, protocol: 'SCTP' }] }],
    egress: [{ to: [{ ipBlock: { cidr: '2001:db8::/32', except: ['2001:db8:1::/48'] } }] }],
  }), []);
});

test('bad CIDRs, except outside the block, endPort below port, unknown protocols: field paths and kube\'s words', () => {
  assert.deepEqual(errors({
    ingress: [{
      from: [{ ipBlock: { cidr: '10.0.0.0/33' } }, { ipBlock: { cidr: '10.0.0.0/16', except: ['10.1.0.0/24', '10.0.0.0/16', 'nope'] } }],
      ports: [{ protocol: 'ICMP' }, { port: 90, endPort: 80 }, { port: 'http', endPort: 81 }, { endPort: 5 }, { port: 70000 }],
    }],
  }), [
    'spec.ingress[0].ports[0].protocol: Unsupported value: "ICMP": supported values: "TCP", "UDP", "SCTP"',
    'spec.ingress[0].ports[1].endPort: Invalid value: 90: must be greater than or equal to `port`',
    'spec.ingress[0].ports[2].endPort: Invalid value: 81: may not be specified when `port` is non-numeric',
    'spec.ingress[0].ports[3].endPort: Invalid value: 5: may not be specified when `port` is not specified',
    'spec.ingress[0].ports[4].port: Invalid value: 70000: must be between 1 and 65535, inclusive',
    'spec.ingress[0].from[0].ipBlock.cidr: Invalid value: "10.0.0.0/33": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)',
    'spec.ingress[0].from[1].ipBlock.except[0]: Invalid value: "10.1.0.0/24": must be a strict subset of `cidr`',
    'spec.ingress[0].from[1].ipBlock.except[1]: Invalid value: "10.0.0.0/16": must be a strict subset of `cidr`',
    'spec.ingress[0].from[1].ipBlock.except[2]: Invalid value: "nope": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)',
  ]);
});

test('peers: none, or ipBlock with another; selectors\' operators; policy types', () => {
  assert.deepEqual(errors({
    egress: [{ to: [{}, { ipBlock: { cidr: '10.0.0.0/8' }, podSelector: {} }, { podSelector: { matchExpressions: [{ key: 'a', operator: 'In' }, { key: 'b', operator: 'Exists', values: ['x'] }, { key: 'c', operator: 'Gt', values: ['1'] }] } }] }],
    policyTypes: ['Ingress', 'Sideways'],
  }), [
    'spec.egress[0].to[0]: Required value: must specify a peer',
    'spec.egress[0].to[1]: Forbidden: may not specify both ipBlock and another peer',
    "spec.egress[0].to[2].podSelector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
    "spec.egress[0].to[2].podSelector.matchExpressions[1].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
    'spec.egress[0].to[2].podSelector.matchExpressions[2].operator: Invalid value: "Gt": not a valid selector operator',
    'spec.policyTypes[1]: Unsupported value: "Sideways": supported values: "Ingress", "Egress"',
  ]);
  assert.deepEqual(errors({ policyTypes: ['Ingress', 'Egress', 'Ingress'] }), ['spec.policyTypes: Invalid value: ["Ingress","Egress","Ingress"]: may not specify more than two policyTypes']);
});

test('port names and CIDRs as kube reads them', () => {
  assert.deepEqual(portNameProblems('serve-80-tcp'), []);
  assert.deepEqual(portNameProblems('80'), ['must contain at least one letter (a-z)']);
  assert.deepEqual(portNameProblems('-a--b_'), ['must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)', 'must not contain consecutive hyphens', 'must not begin or end with a hyphen']);
  assert.deepEqual(parseCidrText('10.0.0.1/24'), { address: '10.0.0.1', prefix: 24, family: 'ipv4' }, 'host bits are allowed, as ParseCIDRSloppy allows them');
  assert.equal(parseCidrText('10.0.0.1'), undefined);
  assert.equal(strictSubset(parseCidrText('10.0.0.0/8')!, parseCidrText('10.200.0.0/16')!), true);
  assert.equal(strictSubset(parseCidrText('10.0.0.0/8')!, parseCidrText('11.0.0.0/16')!), false);
  assert.equal(strictSubset(parseCidrText('10.0.0.0/8')!, parseCidrText('2001:db8::/64')!), false);
});
