/**
 * NetworkPolicy end to end, with unmodified kubectl, on a cluster made as the walkthrough makes it: a plain pool of 2
 * nodes and a VM pool of 1 (tainted for VM pods), each with its own pod subnet.
 * - the probe matrix of the upstream network-policy suite: pods a, b, c in namespaces x, y, z (5 of the 9 VM pods,
 *   the others runc, on 3 nodes), each serving TCP and UDP on 80 and 81; for each of 12 cases every pair is probed
 *   and the whole matrix compared with the expected one (printed both when they differ);
 * - changes take effect within 2 s (policy created and deleted, pod and namespace relabelled), watched from a pod;
 * - the walkthrough's pods: untrusted (VM) and trusted (runc) ping each other, a policy isolating the VM pool's pods
 *   cuts both directions, deleting it restores both;
 * - host services: from a VM pod and a runc pod, nothing on any node address or the host's answers (the agents',
 *   the API server's, etcd's, the registry's, containerd's ports), while the node itself reaches them;
 * - 200 policy and pod changes leave every node's tables as they were; a node agent killed rebuilds its tables from
 *   the API; kubectl describe; invalid policies refused with field paths;
 * - the host's nftables ruleset is the same before and after, and the cluster's delete leaves nothing.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeClient, type KubeObject } from '../../src/kube/index.js';
import { netprobeImageArchive, NETPROBE_IMAGE } from '../../src/images/index.js';
import { resolvePaths } from '../../src/paths.js';
import { waitUntil } from '../../src/wait.js';
import { clusterKey, clusterTraces, hostForwarding } from './cluster-traces.js';
import { kubectlVersions } from './harness.js';
import { processesWhere, repoRoot, sandpod } from './helpers.js';
import { execText, type KubectlResult } from './local-cluster.js';
import { timeToEffect as watchChange } from './netprobe-watch.js';

const root = mkdtempSync(join(tmpdir(), 'sandpod-e2e-netpol-'));
const stateRoot = join(root, 'state');
const roots = ['--state-dir', stateRoot, '--run-dir', join(root, 'run')];
const env = { ...process.env, HOME: join(root, 'home') };
mkdirSync(env.HOME, { recursive: true });
const NAME = 'netpol';
const kubeconfig = join(stateRoot, 'clusters', 'local', NAME, 'kubeconfig');
const key = clusterKey(stateRoot, { resourceGroup: 'local', name: NAME });
const hostRuleset = async (): Promise<string> => (await execText('nft', ['list', 'ruleset'])).stdout;
const rulesetBefore = await hostRuleset();
const forwarding = hostForwarding();

/** Where each pod's netprobe server takes probe requests (127.0.0.1 only): one `wget` in the pod, not a Node.js. */
const CONTROL_PORT = 5002;

const sp = async (args: string[], timeoutMs = 300_000): Promise<string> => {
  const r = await sandpod([...args, ...roots], env, undefined, timeoutMs);
  assert.equal(r.code, 0, `sandpod ${args.join(' ')}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
};
const kubectl = (args: string[], input?: string): Promise<KubectlResult> => new Promise((resolve) => {
  const c = execFile(kubectlVersions['1.32']!, ['--kubeconfig', kubeconfig, '--cache-dir', join(root, 'kc'), ...args], { timeout: 180_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
    resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0, stdout, stderr });
  });
  c.stdin?.on('error', () => undefined);
  c.stdin?.end(input ?? '');
});
const ok = async (args: string[], input?: string): Promise<string> => {
  const r = await kubectl(args, input);
  assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};
const waitFor = <T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 120_000, onTimeout?: () => string): Promise<T> =>
  waitUntil(check, { timeoutMs, intervalMs: 250, onTimeout: () => new Error(`timed out waiting for ${what}${onTimeout ? `\n${onTimeout()}` : ''}`) });
/** Runs a command in a network namespace (a node's), returning its output. */
const inNetns = async (netns: string, cmd: string[]): Promise<string> => (await execText('ip', ['netns', 'exec', netns, ...cmd])).stdout;

let client: KubeClient;

// ---------------------------------------------------------------------------------------------------------------
// The matrix pods.

const NAMESPACES = ['x', 'y', 'z'] as const;
const PODS = ['a', 'b', 'c'] as const;
/** Which of the nine run in VMs: five of them, on the VM pool's node; the other four on the plain pool's two. */
const VM_PODS = new Set(['x/a', 'x/c', 'y/b', 'z/a', 'z/c']);
const KEYS = NAMESPACES.flatMap((ns) => PODS.map((p) => `${ns}/${p}`));
const ips = new Map<string, string>();

function matrixPod(ns: string, name: string): KubeObject {
  const vm = VM_PODS.has(`${ns}/${name}`);
  return {
    apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns, labels: { pod: name } },
    spec: {
      ...(vm ? { runtimeClassName: 'kata-vm-isolation' } : {}),
      terminationGracePeriodSeconds: 0,
      containers: [{
        name: 'serve', image: NETPROBE_IMAGE, command: ['netprobe', 'serve', '--tcp', '80,81', '--udp', '80,81', '--sink', '5001', '--control', String(CONTROL_PORT)],
        ports: [80, 81].flatMap((port) => ['TCP', 'UDP'].map((protocol) => ({ name: `serve-${port}-${protocol.toLowerCase()}`, containerPort: port, protocol }))),
      }],
    },
  };
}

type Probe = { protocol: 'tcp' | 'udp'; port: number };

/** Probes `targets` from the pod `ns/name` (its netprobe server connects); kubectl's result, stdout the JSON answer. */
const probeFrom = (ns: string, name: string, timeoutMs: number, targets: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
  kubectl(['exec', '-n', ns, name, '--', 'wget', '-qO-', `http://127.0.0.1:${CONTROL_PORT}/probe?timeout=${timeoutMs}${targets.map((t) => `&target=${t}`).join('')}`]);

/** Every source probes every target at once (one exec per source); the matrix as text, one line per source. */
async function probeMatrix(p: Probe): Promise<string> {
  const rows = await Promise.all(KEYS.map(async (from) => {
    const [ns, name] = from.split('/') as [string, string];
    const targets = KEYS.map((to) => `${p.protocol}:${ips.get(to)}:${p.port}`);
    const r = await probeFrom(ns, name, 2000, targets);
    if (r.code !== 0) return `${from} ${'?'.repeat(KEYS.length)}  (exec failed: ${r.stderr.trim().slice(0, 200)})`;
    const seen = JSON.parse(r.stdout) as Record<string, boolean>;
    return `${from} ${targets.map((t) => (seen[t] ? 'X' : '.')).join('')}`;
  }));
  return rows.join('\n');
}

/** The expected matrix; a pod always reaches itself (its traffic to itself never leaves it), as upstream's AllowLoopback says. */
const expected = (allowed: (from: string, to: string) => boolean): string =>
  KEYS.map((from) => `${from} ${KEYS.map((to) => (from === to || allowed(from, to) ? 'X' : '.')).join('')}`).join('\n');
const header = `    ${KEYS.map((k) => k.replace('/', '')).join(' ')}  (to; X admitted)`;

/** Probes until the matrix is the expected one (rules take effect within 2 s; probes take their time); prints both otherwise. */
async function expectMatrix(what: string, p: Probe, allowed: (from: string, to: string) => boolean): Promise<void> {
  const want = expected(allowed);
  let got = '';
  await waitFor(`${what}: the ${p.protocol.toUpperCase()} ${p.port} matrix`, async () => {
    got = await probeMatrix(p);
    return got === want ? true : undefined;
  }, 40_000, () => `${header}\nexpected:\n${want}\nprobed:\n${got}`);
}

const policy = async (ns: string, name: string, spec: Record<string, unknown>): Promise<void> => {
  await client.create(`/apis/networking.k8s.io/v1/namespaces/${ns}/networkpolicies`, { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name }, spec });
};
const deletePolicies = async (): Promise<void> => {
  for (const ns of NAMESPACES) await client.call('DELETE', `/apis/networking.k8s.io/v1/namespaces/${ns}/networkpolicies`);
};
const labelPod = (ns: string, name: string, labels: Record<string, string | null>): Promise<KubeObject> => client.mergePatch(`/api/v1/namespaces/${ns}/pods/${name}`, { metadata: { labels } });
const labelNamespace = (ns: string, labels: Record<string, string | null>): Promise<KubeObject> => client.mergePatch(`/api/v1/namespaces/${ns}`, { metadata: { labels } });

/** The nodes' network namespaces. */
const nodeNamespaces: string[] = [];

before(async () => {
  await sp(['create', '--name', NAME, '--node-count', '2', '--pod-subnet', '10.41.0.0/16']);
  await sp(['nodepool', 'add', '--cluster-name', NAME, '--name', 'kata', '--workload-runtime', 'KataVmIsolation', '--os-sku', 'AzureLinux',
    '--node-vm-size', 'Standard_D4s_v3', '--pod-subnet', '10.42.0.0/24', '--node-taints', 'kubernetes.azure.com/kata-vm-isolation=true:NoSchedule']);
  client = KubeClient.fromKubeconfig(kubeconfig);
  const archive = await netprobeImageArchive(resolvePaths());
  await sp(['image', 'push', archive.archive, '--cluster', NAME, '--name', NETPROBE_IMAGE]);
  for (const ns of NAMESPACES) await client.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { ns } } });
  for (const ns of NAMESPACES) for (const p of PODS) await client.create(`/api/v1/namespaces/${ns}/pods`, matrixPod(ns, p));
  for (const ns of NAMESPACES) await ok(['wait', '-n', ns, '--for=condition=Ready', 'pod', '--all', '--timeout=600s']);
  for (const ns of NAMESPACES) {
    for (const p of PODS) ips.set(`${ns}/${p}`, await ok(['get', 'pod', '-n', ns, p, '-o', 'jsonpath={.status.podIP}']));
  }
  for (const line of (await execText('ip', ['netns', 'list'])).stdout.split('\n')) {
    const ns = line.split(' ')[0] ?? '';
    if (new RegExp(`^sandpod-${key}-n\\d+$`).test(ns)) nodeNamespaces.push(ns);
  }
  assert.equal(nodeNamespaces.length, 3, 'three nodes, each its own network namespace');
});

after(async () => {
  client?.close();
  await sandpod(['delete', '--name', NAME, '--yes', ...roots], env, undefined, 300_000);
  const left = await clusterTraces(root, key);
  await rm(root, { recursive: true, force: true });
  assert.deepEqual(left, [], 'the cluster left nothing');
  assert.equal(hostForwarding(), forwarding, 'the host\'s IPv4 forwarding is as it was');
  assert.equal(await hostRuleset(), rulesetBefore, 'the host\'s nftables ruleset is exactly as it was');
});

test('the probe matrix over 9 pods on 3 nodes, 5 of them VM pods, for 12 cases', async (t) => {
  t.diagnostic(`pods: ${KEYS.map((k) => `${k}=${ips.get(k)}${VM_PODS.has(k) ? '(vm)' : ''}`).join(' ')}`);
  const tcp80: Probe = { protocol: 'tcp', port: 80 };
  const tcp81: Probe = { protocol: 'tcp', port: 81 };
  const udp80: Probe = { protocol: 'udp', port: 80 };
  const udp81: Probe = { protocol: 'udp', port: 81 };
  const inX = (k: string): boolean => k.startsWith('x/');
  await expectMatrix('no policy', tcp80, () => true);
  await expectMatrix('no policy', udp81, () => true);

  await t.test('1 default-deny ingress', async () => {
    await policy('x', 'deny-ingress', { podSelector: {}, policyTypes: ['Ingress'] });
    await expectMatrix('default-deny ingress in x', tcp80, (_, to) => !inX(to));
    await deletePolicies();
  });
  await t.test('2 default-deny egress', async () => {
    await policy('x', 'deny-egress', { podSelector: {}, policyTypes: ['Egress'] });
    await expectMatrix('default-deny egress in x', udp80, (from) => !inX(from));
    await deletePolicies();
  });
  await t.test('3 allow from a namespace', async () => {
    await policy('x', 'from-y', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }] }] });
    await expectMatrix('x/a admits namespace y only', tcp80, (from, to) => to !== 'x/a' || from.startsWith('y/'));
    await deletePolicies();
  });
  await t.test('4 allow from a pod in a namespace (both selectors in one peer)', async () => {
    await policy('x', 'from-y-b', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } }, podSelector: { matchLabels: { pod: 'b' } } }] }] });
    await expectMatrix('x/a admits y/b only', tcp81, (from, to) => to !== 'x/a' || from === 'y/b');
    await deletePolicies();
  });
  await t.test('5 ipBlock with except', async () => {
    await policy('x', 'block', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ ipBlock: { cidr: '10.40.0.0/14', except: [`${ips.get('y/b')}/32`] } }] }] });
    await expectMatrix('x/a admits every pod but y/b', tcp80, (from, to) => to !== 'x/a' || from !== 'y/b');
    await deletePolicies();
  });
  await t.test('6 named port', async () => {
    await policy('x', 'named', { podSelector: {}, ingress: [{ ports: [{ protocol: 'UDP', port: 'serve-81-udp' }] }] });
    await expectMatrix('x admits UDP serve-81-udp', udp81, () => true);
    await expectMatrix('x admits nothing else', udp80, (_, to) => !inX(to));
    await deletePolicies();
  });
  await t.test('7 endPort range', async () => {
    await policy('x', 'range', { podSelector: {}, ingress: [{ ports: [{ protocol: 'TCP', port: 81, endPort: 90 }] }] });
    await expectMatrix('x admits TCP 81-90', tcp81, () => true);
    await expectMatrix('x admits no TCP 80', tcp80, (_, to) => !inX(to));
    await deletePolicies();
  });
  await t.test('8 egress to one pod only', async () => {
    await policy('x', 'to-b', { podSelector: { matchLabels: { pod: 'a' } }, policyTypes: ['Egress'], egress: [{ to: [{ podSelector: { matchLabels: { pod: 'b' } } }] }] });
    await expectMatrix('x/a reaches x/b only', tcp80, (from, to) => from !== 'x/a' || to === 'x/b');
    await deletePolicies();
  });
  await t.test('9 deny all, then allow one port; 10 policies deleted', async () => {
    await policy('x', 'deny-all', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
    await policy('x', 'allow-81', { podSelector: {}, policyTypes: ['Ingress', 'Egress'], ingress: [{ ports: [{ port: 81 }] }], egress: [{ ports: [{ port: 81 }] }] });
    await expectMatrix('x: TCP 81 only', tcp81, () => true);
    await expectMatrix('x: no TCP 80', tcp80, (from, to) => !inX(from) && !inX(to));
    await client.call('DELETE', '/apis/networking.k8s.io/v1/namespaces/x/networkpolicies/allow-81');
    await expectMatrix('allow-81 deleted: x closed on 81 too', tcp81, (from, to) => !inX(from) && !inX(to));
    await client.call('DELETE', '/apis/networking.k8s.io/v1/namespaces/x/networkpolicies/deny-all');
    await expectMatrix('deny-all deleted: everything open again', tcp81, () => true);
  });
  await t.test('11 a pod relabelled into and out of a selector', async () => {
    await policy('x', 'web', { podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Ingress'] });
    await labelPod('x', 'c', { app: 'web' });
    await expectMatrix('x/c relabelled into the selector', tcp80, (_, to) => to !== 'x/c');
    await labelPod('x', 'c', { app: null });
    await expectMatrix('x/c relabelled out of it', tcp80, () => true);
    await deletePolicies();
  });
  await t.test('12 a namespace relabelled', async () => {
    await policy('x', 'from-blue', { podSelector: { matchLabels: { pod: 'b' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'blue' } } }] }] });
    await expectMatrix('no namespace is blue', udp80, (_, to) => to !== 'x/b');
    await labelNamespace('z', { team: 'blue' });
    await expectMatrix('z relabelled blue', udp80, (from, to) => to !== 'x/b' || from.startsWith('z/'));
    await labelNamespace('z', { team: null });
    await expectMatrix('z no longer blue', udp80, (_, to) => to !== 'x/b');
    await deletePolicies();
    await expectMatrix('all open again', udp80, () => true);
  });
});

/** Milliseconds from `change` to the first probe of `target` from `watcher` (a runc pod) that sees it `until` open or closed. */
function timeToEffect(watcher: string, target: string, until: 'open' | 'closed', change: () => Promise<unknown>): Promise<number> {
  const [ns, name] = watcher.split('/') as [string, string];
  const exec = [kubectlVersions['1.32']!, '--kubeconfig', kubeconfig, '--cache-dir', join(root, 'kc'), 'exec', '-n', ns, name];
  return watchChange({ exec, target: `tcp:${ips.get(target)}:80`, until }, change);
}

test('changes take effect within 2 s: policy created and deleted, pod and namespace relabelled', async (t) => {
  // Watchers are runc pods (x/b, y/a), so their clock is this test's; targets are VM pods on another node.
  const created = await timeToEffect('y/a', 'x/a', 'closed', () => policy('x', 'deny', { podSelector: { matchLabels: { pod: 'a' } }, policyTypes: ['Ingress'] }));
  const deleted = await timeToEffect('y/a', 'x/a', 'open', () => client.call('DELETE', '/apis/networking.k8s.io/v1/namespaces/x/networkpolicies/deny'));
  await policy('z', 'web', { podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Ingress'] });
  const podIn = await timeToEffect('x/b', 'z/c', 'closed', () => labelPod('z', 'c', { app: 'web' }));
  const podOut = await timeToEffect('x/b', 'z/c', 'open', () => labelPod('z', 'c', { app: null }));
  await deletePolicies();
  await policy('z', 'from-red', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'red' } } }] }] });
  await labelNamespace('y', { team: 'red' });
  const nsOut = await timeToEffect('y/a', 'z/a', 'closed', () => labelNamespace('y', { team: null }));
  const nsIn = await timeToEffect('y/a', 'z/a', 'open', () => labelNamespace('y', { team: 'red' }));
  await labelNamespace('y', { team: null });
  await deletePolicies();
  const all = { created, deleted, podIn, podOut, nsOut, nsIn };
  t.diagnostic(`ms to take effect: ${JSON.stringify(all)}`);
  for (const [what, ms] of Object.entries(all)) assert.ok(ms < 2000, `${what}: ${ms} ms`);
});

test('the walkthrough: untrusted (VM) and trusted (runc) ping each other; a policy isolating the VM pool\'s pods cuts both ways; deleting it restores both', async () => {
  await ok(['apply', '-f', join(repoRoot, 'examples', 'trusted-pod.yaml'), '-f', join(repoRoot, 'examples', 'untrusted-vm-pod.yaml')]);
  await ok(['wait', '--for=condition=Ready', 'pod/trusted', 'pod/untrusted', '--timeout=300s']);
  const trusted = await ok(['get', 'pod', 'trusted', '-o', 'jsonpath={.status.podIP}']);
  const untrusted = await ok(['get', 'pod', 'untrusted', '-o', 'jsonpath={.status.podIP}']);
  const ping = async (from: string, to: string): Promise<boolean> => /1 packets received/.test((await kubectl(['exec', from, '--', 'ping', '-c', '1', '-W', '2', to])).stdout);
  const both = async (): Promise<[boolean, boolean]> => [await ping('untrusted', trusted), await ping('trusted', untrusted)];
  assert.deepEqual(await both(), [true, true], 'by default both ways');
  // The VM pool's pods carry its label: `kubectl label` stands for what a Deployment's template would say.
  await ok(['label', 'pod', 'untrusted', 'pool=kata']);
  await ok(['apply', '-f', '-'], `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: isolate-vm-pool}
spec:
  podSelector: {matchLabels: {pool: kata}}
  policyTypes: [Ingress, Egress]
`);
  await waitFor('both directions cut', async () => ((await both()).join() === 'false,false' ? true : undefined), 30_000);
  await ok(['delete', 'networkpolicy', 'isolate-vm-pool']);
  await waitFor('both directions back', async () => ((await both()).join() === 'true,true' ? true : undefined), 30_000);
});

test('host services are out of reach of a VM pod and a runc pod: every node address and the host\'s, every port they listen on', async (t) => {
  // What listens on the machine for this cluster: in each node's namespace (agent, containerd), and the host's
  // address on the cluster network (API server, registry) plus etcd's ports wherever it listens.
  const listening = (ss: string): Array<[string, number]> => ss.split('\n').map((l) => l.trim().split(/\s+/)[3] ?? '').filter((a) => a.includes(':'))
    .map((a) => [a.slice(0, a.lastIndexOf(':')).replace(/^\[|\]$/g, ''), Number(a.slice(a.lastIndexOf(':') + 1))] as [string, number]);
  const ports = new Set<number>();
  const addresses = new Set<string>();
  for (const ns of nodeNamespaces) {
    for (const [, port] of listening(await inNetns(ns, ['ss', '-Hltn']))) ports.add(port);
    for (const line of (await execText('ip', ['-n', ns, '-4', '-o', 'addr', 'show'])).stdout.split('\n')) {
      const m = / inet (\d+\.\d+\.\d+\.\d+)\//.exec(line);
      if (m && !m[1]!.startsWith('127.')) addresses.add(m[1]!);
    }
  }
  const nodeNetwork = (await execText('ip', ['-4', '-o', 'addr', 'show', 'dev', `spc${key}`])).stdout;
  const hostAddress = / inet (\d+\.\d+\.\d+\.\d+)\//.exec(nodeNetwork)?.[1];
  assert.ok(hostAddress, 'the host has its address on the cluster network');
  addresses.add(hostAddress);
  const status = JSON.parse(await sp(['status', '--name', NAME, '--json'])) as { etcdEndpoints?: string[] };
  const etcd = (status.etcdEndpoints ?? []).map((e) => Number(new URL(e).port));
  assert.ok(etcd.length > 0, 'status names etcd\'s endpoints');
  for (const [addr, port] of listening((await execText('ss', ['-Hltn'])).stdout)) {
    if (addr === hostAddress || addr === '0.0.0.0' || addr === '*' || addr === '::') ports.add(port);
  }
  for (const p of etcd) ports.add(p);
  const api = Number(new URL(/server: (\S+)/.exec(await ok(['config', 'view', '--minify']))![1]!).port);
  assert.ok(ports.has(api), `the API server's port ${api} is among the targets`);
  const targets = [...addresses].sort().flatMap((a) => [...ports].sort((x, y) => x - y).map((p) => `tcp:${a}:${p}`));
  t.diagnostic(`${targets.length} targets: ${[...addresses].join(', ')} × ports ${[...ports].join(', ')} (etcd ${etcd.join(', ')}, API ${api})`);
  // The node itself reaches what listens on its addresses: the targets are real.
  const [someNs] = [...nodeNamespaces];
  const agentPort = Number(await ok(['get', 'nodes', '-o', 'jsonpath={.items[0].status.daemonEndpoints.kubeletEndpoint.Port}']));
  const firstNode = await ok(['get', 'nodes', '-o', 'jsonpath={.items[0].status.addresses[?(@.type=="InternalIP")].address}']);
  // busybox's nc has no -z; a Node one-liner connects and gives up after 2 s like `nc -w 2` would.
  const connects = `setTimeout(() => process.exit(1), 2000); require('net').connect(${agentPort}, '${firstNode}').on('connect', () => process.exit(0)).on('error', () => process.exit(1))`;
  assert.equal((await execText('ip', ['netns', 'exec', someNs!, process.execPath, '-e', connects])).code, 0, 'a node reaches an agent\'s port: the targets are real');
  for (const from of ['x/a', 'x/b']) {
    const [ns, name] = from.split('/') as [string, string];
    // 5 s, not the matrix's 2: a VM pod starts 71 connects at once on a loaded machine, and a host service that
    // answers at all answers within it.
    const probed = await probeFrom(ns, name, 5000, [...targets, `tcp:${ips.get('y/a')}:80`]);
    assert.equal(probed.code, 0, `the probe from ${from} ran: ${probed.stderr}`);
    const r = probed.stdout;
    const seen = JSON.parse(r) as Record<string, boolean>;
    if (seen[`tcp:${ips.get('y/a')}:80`] !== true) {
      // Blocked, or only slow among the many dropped targets? The same pod alone says which.
      const alone = await probeFrom(ns, name, 5000, [`tcp:${ips.get('y/a')}:80`]);
      // And is it the source, the target or the rules? Another pod's view, y/a's restarts and the nodes' tables.
      const others = await probeFrom('y', 'b', 5000, [`tcp:${ips.get('y/a')}:80`, `tcp:${ips.get(from)}:80`]);
      const restarts = await ok(['get', 'pod', '-n', 'y', 'a', '-o', 'jsonpath={.status.containerStatuses[0].restartCount}']);
      const rules = await Promise.all([...nodeNamespaces].map(async (n) => `${n}: ${(await inNetns(n, ['nft', 'list', 'table', 'inet', 'sandpod'])).split('\n').length} lines`));
      assert.fail(`${from} does not reach y/a with the host targets, so the probe proves nothing\nwith them: ${r}\nalone: ${alone.stdout}${alone.stderr}\n` +
        `from y/b to y/a and ${from}: ${others.stdout}${others.stderr}; y/a restarts: ${restarts}; tables: ${rules.join(', ')}`);
    }
    const answered = targets.filter((tg) => seen[tg]);
    assert.deepEqual(answered, [], `${from} (${VM_PODS.has(from) ? 'VM' : 'runc'} pod) reaches nothing of the hosts`);
  }
});

test('200 policy and pod changes leave every node\'s tables as they were', async () => {
  const tables = async (): Promise<string> => (await Promise.all([...nodeNamespaces].sort().map(async (ns) => `${ns}\n${await inNetns(ns, ['nft', 'list', 'table', 'inet', 'sandpod'])}${await inNetns(ns, ['nft', 'list', 'table', 'bridge', 'sandpod'])}`))).join('\n');
  const before = await tables();
  await client.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'churn' } });
  const base = '/apis/networking.k8s.io/v1/namespaces/churn/networkpolicies';
  let changes = 0;
  const pods: string[] = [];
  for (let i = 0; changes < 200; i++) {
    const name = `p${i % 17}`;
    const exists = await client.raw('GET', `${base}/${name}`);
    if (exists.code === 200) await client.call('DELETE', `${base}/${name}`);
    else {
      await client.create(base, {
        apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name },
        spec: { podSelector: { matchLabels: { app: `a${i % 3}` } }, policyTypes: ['Ingress', 'Egress'], ingress: [{ from: [{ namespaceSelector: {}, podSelector: { matchLabels: { app: `a${i % 5}` } } }], ports: [{ port: 1000 + i }] }], egress: [{ to: [{ ipBlock: { cidr: `10.${i % 250}.0.0/16` } }] }] },
      });
    }
    changes++;
    if (i % 5 === 0 && pods.length < 8) {
      const pod = `c${i}`;
      await client.create('/api/v1/namespaces/churn/pods', { apiVersion: 'v1', kind: 'Pod', metadata: { name: pod, labels: { app: `a${i % 3}` } }, spec: { terminationGracePeriodSeconds: 0, containers: [{ name: 'c', image: 'busybox', command: ['sleep', '3600'] }] } });
      pods.push(pod);
      changes++;
    } else if (i % 5 === 2 && pods.length > 0) {
      await labelPod('churn', pods[i % pods.length]!, { app: `a${i % 5}` });
      changes++;
    } else if (i % 11 === 10 && pods.length > 0) {
      await client.call('DELETE', `/api/v1/namespaces/churn/pods/${pods.shift()!}?gracePeriodSeconds=0`);
      changes++;
    }
  }
  await ok(['wait', '-n', 'churn', '--for=condition=Ready', 'pod', '--all', '--timeout=300s']);
  assert.notEqual(await tables(), before, 'the churn shows in the tables');
  await client.call('DELETE', '/api/v1/namespaces/churn');
  let now = '';
  await waitFor('the tables to be as before the churn', async () => ((now = await tables()) === before ? true : undefined), 120_000, () => `before:\n${before}\nnow:\n${now}`);
});

test('a node agent killed comes back and rebuilds its tables from the API; the tables hold while it is away', async () => {
  const [ns] = [...nodeNamespaces].sort();
  const listing = async (): Promise<string> => inNetns(ns!, ['nft', 'list', 'table', 'inet', 'sandpod']);
  const before = await listing();
  assert.match(before, /chain forward/);
  // Read from here, not by a shell in the namespace: the shell's own command line would name the agent too.
  const inNamespace = new Set((await execText('ip', ['netns', 'pids', ns!])).stdout.split('\n').filter((l) => l !== '').map(Number));
  const agentPid = (await processesWhere((cmd) => cmd.includes('daemon.js\0node\0'))).find((pid) => inNamespace.has(pid));
  assert.ok(agentPid, 'the node agent runs in its namespace');
  process.kill(agentPid, 'SIGKILL');
  assert.equal(await listing(), before, 'the tables stay in force without the agent');
  await inNetns(ns!, ['nft', 'delete', 'table', 'inet', 'sandpod']);
  await waitFor('the restarted agent to rebuild the table', async () => ((await listing()) === before ? true : undefined), 60_000);
});

test('kubectl describe networkpolicy; invalid policies are refused with field paths', async () => {
  await ok(['apply', '-f', '-'], `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: described, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {ns: "y"}}
      podSelector: {matchLabels: {pod: b}}
    - ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}
    ports: [{port: serve-80-tcp}, {protocol: UDP, port: 81, endPort: 90}]
`);
  const d = await ok(['describe', 'networkpolicy', '-n', 'x', 'described']);
  assert.match(d, /Name:\s+described/);
  assert.match(d, /PodSelector:\s+pod=a/);
  assert.match(d, /To Port: serve-80-tcp\/TCP/);
  assert.match(d, /To Port Range: 81-90\/UDP/);
  assert.match(d, /NamespaceSelector: ns=y/);
  assert.match(d, /PodSelector: pod=b/);
  assert.match(d, /IPBlock:\s+CIDR: 10\.0\.0\.0\/8\s+Except: 10\.1\.0\.0\/16/);
  assert.match(d, /Not affecting egress traffic/);
  assert.match(d, /Policy Types: Ingress/);
  await ok(['delete', 'networkpolicy', '-n', 'x', 'described']);
  const r = await kubectl(['apply', '-f', '-'], `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: bad, namespace: x}
spec:
  podSelector: {}
  ingress:
  - from: [{ipBlock: {cidr: 10.0.0.0/33}}]
    ports: [{protocol: ICMP, port: 80}, {port: 90, endPort: 80}]
`);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /The NetworkPolicy "bad" is invalid:/);
  assert.match(r.stderr, /spec\.ingress\[0\]\.ports\[0\]\.protocol: Unsupported value: "ICMP": supported values: "TCP", "UDP", "SCTP"/);
  assert.match(r.stderr, /spec\.ingress\[0\]\.ports\[1\]\.endPort: Invalid value: 90: must be greater than or equal to `port`/);
  assert.match(r.stderr, /spec\.ingress\[0\]\.from\[0\]\.ipBlock\.cidr: Invalid value: "10\.0\.0\.0\/33": must be a valid CIDR value/);
});
