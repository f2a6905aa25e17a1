import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { deleteProgram, renderRuleset, type NodeRuleset } from './nftables.js';
import { podRules, type PolicyPod } from './network-policy.js';

const web: PolicyPod = { namespace: 'x', name: 'web', labels: { app: 'web' }, ip: '10.244.0.5', ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] };
const client: PolicyPod = { namespace: 'y', name: 'client', labels: { app: 'client' }, ip: '10.244.1.7', ports: [] };
const other: PolicyPod = { namespace: 'x', name: 'other', labels: {}, ip: '10.244.0.6', ports: [] };

const ruleset = (): NodeRuleset => ({
  bridge: 'cbr0',
  podCidrs: ['10.244.1.0/24', '10.244.0.0/24', '10.244.0.0/24'],
  ports: [{ ifname: 'vethb', ip: other.ip }, { ifname: 'veth"a', ip: web.ip }],
  pods: podRules({
    namespaces: [{ name: 'y', labels: { team: 'blue' } }],
    pods: [web, client, other],
    policies: [{
      namespace: 'x', name: 'web', spec: {
        podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Ingress', 'Egress'],
        ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'blue' } } }, { ipBlock: { cidr: '10.0.0.0/8', except: ['10.244.0.0/16'] } }], ports: [{ port: 'http' }, { protocol: 'UDP', port: 5000, endPort: 5010 }] }],
        egress: [{}],
      },
    }],
  }, [web, other]),
});

test('the program replaces both tables in one transaction and dispatches only isolated pods to their chains', () => {
  const text = renderRuleset(ruleset());
  assert.match(text, /^table inet sandpod\ndelete table inet sandpod\ntable bridge sandpod\ndelete table bridge sandpod\n/m);
  assert.match(text, /elements = \{ 10\.244\.0\.0\/24, 10\.244\.1\.0\/24 \}/, 'pod CIDRs once each, sorted');
  assert.match(text, /ip daddr vmap \{ 10\.244\.0\.5 : jump ingress_0 \}/);
  assert.match(text, /ip saddr vmap \{ 10\.244\.0\.5 : jump egress_0 \}/);
  assert.doesNotMatch(text, /10\.244\.0\.6 : jump/, 'a pod no policy selects is not dispatched');
  assert.match(text, /ip saddr \{ 10\.244\.1\.7 \} meta l4proto tcp th dport \{ 8080 \} return comment "x\/web ingress\[0\]"/, 'the named port resolved on the pod');
  assert.match(text, /ip saddr \{ 10\.244\.1\.7 \} meta l4proto udp th dport \{ 5000-5010 \} return/);
  assert.match(text, /ip saddr 10\.0\.0\.0\/8 ip saddr != \{ 10\.244\.0\.0\/16 \} meta l4proto tcp th dport \{ 8080 \} return/);
  assert.match(text, /chain egress_0 \{\n\t\treturn comment "x\/web egress\[0\]"\n\t\tdrop comment "x\/web: egress isolated"/, 'an empty egress rule admits everything');
  assert.match(text, /elements = \{ "vetha" \. 10\.244\.0\.5, "vethb" \. 10\.244\.0\.6 \}/, 'interface names cannot break out of their quotes');
  assert.equal(renderRuleset(ruleset()), text, 'the same state makes the same program');
});

test('no pods and no policies still isolate the node: the empty program', () => {
  const text = renderRuleset({ bridge: 'cbr0', podCidrs: [], ports: [], pods: [] });
  assert.doesNotMatch(text, /vmap|elements/);
  assert.match(text, /iifname "cbr0" drop comment "pods open nothing on their node"/);
  assert.match(text, /type filter hook prerouting priority filter; policy drop;/);
});

/** Runs `nft` in a network namespace of its own that goes when the command ends; undefined where that cannot be done. */
function nftInFreshNamespace(script: string): { code: number; out: string } | undefined {
  const r = spawnSync('unshare', ['--net', 'sh', '-c', script], { encoding: 'utf8' });
  if (r.error || /Operation not permitted|not found/.test(r.stderr)) return undefined;
  return { code: r.status ?? 1, out: `${r.stdout}${r.stderr}` };
}

test('nft loads the program twice over (replacing itself), and the delete program leaves nothing', (t) => {
  const program = renderRuleset(ruleset()).replace(/'/g, "'\\''");
  const r = nftInFreshNamespace(`printf '%s' '${program}' | nft -f - && printf '%s' '${program}' | nft -f - && nft list ruleset && echo ---- && printf '%s' '${deleteProgram()}' | nft -f - && nft list ruleset`);
  if (!r) return t.skip('needs root and nft (unshare --net)');
  assert.equal(r.code, 0, r.out);
  const [loaded, after] = r.out.split('----\n');
  assert.match(loaded!, /table inet sandpod \{/);
  assert.match(loaded!, /table bridge sandpod \{/);
  assert.match(loaded!, /ip daddr 10\.244\.1\.7 tcp dport 8080 return|ip saddr 10\.244\.1\.7 tcp dport 8080 return/);
  assert.equal(after!.trim(), '', 'nothing of Sandpod is left');
});
