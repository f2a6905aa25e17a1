/**
 * Clusters and node pools as the AKS Pod Sandboxing walkthrough makes them, with unmodified kubectl 1.32 and 1.33:
 * its five lines as written; every validation rule refused with its message and nothing created; a cluster with a
 * plain pool of 2 nodes and a VM-isolation pool of 1, each with its own pod subnet, where the walkthrough's pods land
 * on their pools and reach each other across nodes (ping and TCP, both ways, no NAT); a node whose agent stops goes
 * NotReady and unreachable and comes back; supervised daemons come back; scale-down drains; two clusters side by side
 * and `delete` leaving nothing of a cluster while the other runs on.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeClient } from '../../src/kube/index.js';
import { waitUntil } from '../../src/wait.js';
import { clusterKey, clusterTraces, hostForwarding, nftTables } from './cluster-traces.js';
import { kubectlVersions } from './harness.js';
import { containerProcesses, processesWhere, repoRoot, sandpod } from './helpers.js';
import { execText, type KubectlResult } from './local-cluster.js';

const root = mkdtempSync(join(tmpdir(), 'sandpod-e2e-clusters-'));
const stateRoot = join(root, 'state');
const roots = ['--state-dir', stateRoot, '--run-dir', join(root, 'run')];
const env = { ...process.env, KUBECONFIG: join(root, 'kube', 'config'), HOME: join(root, 'home') };
mkdirSync(env.HOME, { recursive: true });
const forwarding = hostForwarding();
const tablesBefore = await nftTables();

const sp = (args: string[], timeoutMs = 300_000, extraEnv: NodeJS.ProcessEnv = {}): ReturnType<typeof sandpod> =>
  sandpod([...args, ...roots], { ...env, ...extraEnv }, undefined, timeoutMs);
const spOk = async (args: string[], timeoutMs?: number, extraEnv?: NodeJS.ProcessEnv): Promise<{ stdout: string; stderr: string }> => {
  const r = await sp(args, timeoutMs, extraEnv);
  assert.equal(r.code, 0, `sandpod ${args.join(' ')}:\n${r.stdout}\n${r.stderr}`);
  return r;
};
/** The pools cluster's node monitor grace period (40 s by default). */
const POOLS_GRACE_S = 20;
const kubeconfigOf = (group: string, name: string): string => join(stateRoot, 'clusters', group, name, 'kubeconfig');
/** kubectl with the test's environment ($KUBECONFIG as get-credentials wrote it) unless a kubeconfig is named. */
const kubectl = (args: string[], o: { kubeconfig?: string; version?: string } = {}): Promise<KubectlResult> => new Promise((resolve) => {
  execFile(kubectlVersions[o.version ?? '1.32']!, [...(o.kubeconfig ? ['--kubeconfig', o.kubeconfig] : []), '--cache-dir', join(root, 'kc'), ...args],
    { env, timeout: 180_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0, stdout, stderr });
    });
});
const ok = async (kubeconfig: string, args: string[]): Promise<string> => {
  const r = await kubectl(args, { kubeconfig });
  assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};
const waitFor = (what: string, check: () => Promise<boolean>, timeoutMs = 120_000): Promise<true> =>
  waitUntil(async () => ((await check()) ? true : undefined), { timeoutMs, intervalMs: 500, onTimeout: () => new Error(`timed out waiting for ${what}`) });
const netnsOf = async (): Promise<string[]> => (await execText('ip', ['netns', 'list'])).stdout.split('\n').filter((l) => l.startsWith('sandpod-')).map((l) => l.split(' ')[0]!).sort();
const listed = async (): Promise<string> => (await spOk(['list', '-o', 'tsv'])).stdout;

after(async () => {
  for (const line of (await sp(['list', '-o', 'tsv'])).stdout.split('\n').filter(Boolean)) {
    const [name, group] = line.split('\t');
    await sp(['delete', '--name', name!, '--resource-group', group!, '--yes']);
  }
  const left = [...await clusterTraces(root, clusterKey(stateRoot, { resourceGroup: 'myResourceGroup', name: 'myAKSCluster' })),
    ...await clusterTraces(root, clusterKey(stateRoot, { resourceGroup: 'local', name: 'pools' })),
    ...await clusterTraces(root, clusterKey(stateRoot, { resourceGroup: 'local', name: 'side' }))];
  await rm(root, { recursive: true, force: true });
  assert.deepEqual(left, [], 'the clusters of this file left nothing');
  assert.equal(hostForwarding(), forwarding, 'the host\'s IPv4 forwarding is as it was');
  assert.equal(await nftTables(), tablesBefore, 'no nftables table was added or removed');
});

test('the walkthrough\'s lines run as written: create, get-credentials, kubectl, nodepool add, delete', async (t) => {
  const create = await spOk(['create', '--name', 'myAKSCluster', '--resource-group', 'myResourceGroup', '--os-sku', 'AzureLinux',
    '--workload-runtime', 'KataMshvVmIsolation', '--node-vm-size', 'Standard_D4s_v3', '--node-count', '1', '--generate-ssh-keys']);
  assert.equal(create.stderr.match(/ignoring --generate-ssh-keys: nodes are network namespaces on this machine/g)?.length, 1, 'the ignored flag is reported once, with the reason');
  assert.match(create.stderr, /note: --workload-runtime KataMshvVmIsolation is the legacy name of KataVmIsolation: accepted, same behaviour/);
  assert.match(create.stderr, /warning: .*offer 4 vCPUs and 16 GiB; this machine has \d+ CPUs .*overcommit/);
  const shown = JSON.parse(create.stdout) as { provisioningState: string; powerState: { code: string }; agentPoolProfiles: Array<Record<string, unknown>> };
  assert.equal(shown.provisioningState, 'Succeeded');
  assert.equal(shown.powerState.code, 'Running');
  assert.deepEqual(['name', 'workloadRuntime', 'osSku', 'vmSize', 'count', 'mode', 'provisioningState'].map((k) => shown.agentPoolProfiles[0]![k]),
    ['nodepool1', 'KataMshvVmIsolation', 'AzureLinux', 'Standard_D4s_v3', 1, 'System', 'Succeeded']);
  assert.equal(shown.agentPoolProfiles[0]!['podSubnet'], '10.244.0.0/16');

  const creds = await spOk(['get-credentials', '--resource-group', 'myResourceGroup', '--name', 'myAKSCluster']);
  assert.match(creds.stderr, new RegExp(`Merged "myAKSCluster" as current context in ${env.KUBECONFIG.replace(/[.]/g, '\\.')}`));
  for (const version of Object.keys(kubectlVersions)) {
    const pods = await kubectl(['get', 'pods', '--all-namespaces'], { version });
    assert.equal(pods.code, 0, `kubectl ${version} get pods --all-namespaces: ${pods.stderr}`);
  }

  const add = await spOk(['nodepool', 'add', '--cluster-name', 'myAKSCluster', '--resource-group', 'myResourceGroup', '--name', 'nodepool2',
    '--os-sku', 'AzureLinux', '--workload-runtime', 'KataMshvVmIsolation', '--node-vm-size', 'Standard_D4s_v3']);
  const pool = JSON.parse(add.stdout) as Record<string, unknown>;
  assert.deepEqual([pool['name'], pool['mode'], pool['count'], pool['provisioningState']], ['nodepool2', 'User', 1, 'Succeeded']);
  for (const version of Object.keys(kubectlVersions)) {
    const nodes = await kubectl(['get', 'nodes', '-L', 'kubernetes.azure.com/agentpool,kubernetes.azure.com/kata-vm-isolation'], { version });
    assert.equal(nodes.code, 0, nodes.stderr);
    t.diagnostic(`kubectl ${version} get nodes -L …:\n${nodes.stdout}`);
    assert.match(nodes.stdout, /AGENTPOOL\s+KATA-VM-ISOLATION/);
    assert.match(nodes.stdout, /aks-nodepool1-\d{8}-vmss000000\s+Ready\s+.*\s+nodepool1\s+true\n/);
    assert.match(nodes.stdout, /aks-nodepool2-\d{8}-vmss000000\s+Ready\s+.*\s+nodepool2\s+true\n/);
  }
  const labels = JSON.parse(await ok(env.KUBECONFIG, ['get', 'nodes', '-l', 'agentpool=nodepool2', '-o', 'jsonpath={.items[0].metadata.labels}'])) as Record<string, string>;
  assert.deepEqual(['kubernetes.azure.com/agentpool', 'kubernetes.azure.com/mode', 'kubernetes.azure.com/os-sku', 'kubernetes.io/os', 'node.kubernetes.io/instance-type',
    'kubernetes.azure.com/kata-vm-isolation', 'kubernetes.azure.com/kata-mshv-vm-isolation'].map((k) => labels[k]), ['nodepool2', 'user', 'AzureLinux', 'linux', 'Standard_D4s_v3', 'true', 'true']);
  const capacity = await ok(env.KUBECONFIG, ['get', 'nodes', '-l', 'agentpool=nodepool2', '-o', 'jsonpath={.items[0].status.capacity.cpu} {.items[0].status.allocatable.memory} {.items[0].status.capacity.pods}']);
  assert.equal(capacity, `4 ${16 * 1024 * 1024}Ki 110`, 'capacity and allocatable from Standard_D4s_v3');

  assert.match(await listed(), /^myAKSCluster\tmyResourceGroup\t1\.32\.0\tSucceeded\tRunning\t2\t10\.224\.\d+\.0\/24\thttps:\/\/127\.0\.0\.1:\d+\n$/);
  const table = (await spOk(['nodepool', 'list', '--cluster-name', 'myAKSCluster', '-g', 'myResourceGroup', '-o', 'table'])).stdout;
  assert.match(table, /^Name\s+OsSku\s+VmSize\s+Count\s+MaxPods\s+Mode\s+WorkloadRuntime\s+PodSubnet\s+ProvisioningState\n[- ]+\nnodepool1\s+AzureLinux\s+Standard_D4s_v3\s+1\s+110\s+System\s+KataMshvVmIsolation\s+10\.244\.0\.0\/16\s+Succeeded\nnodepool2\s/);
  assert.match((await spOk(['nodepool', 'show', '--cluster-name', 'myAKSCluster', '-g', 'myResourceGroup', '-n', 'nodepool2', '-o', 'yaml'])).stdout, /^name: nodepool2\n(.*\n)*workloadRuntime: KataMshvVmIsolation\n/m);

  const key = clusterKey(stateRoot, { resourceGroup: 'myResourceGroup', name: 'myAKSCluster' });
  assert.equal((await netnsOf()).filter((n) => n.startsWith(`sandpod-${key}`)).length, 3, 'a switch and two nodes');
  await spOk(['delete', '--resource-group', 'myResourceGroup', '--name', 'myAKSCluster', '--yes']);
  assert.deepEqual(await clusterTraces(root, key), [], 'delete left no process, mount, namespace or interface');
  assert.equal(existsSync(join(stateRoot, 'clusters', 'myResourceGroup')), false, 'nor any file of the cluster');
  assert.equal(await listed(), '');
});

test('every validation rule refuses with its code, the flag and the fix, and creates nothing', async () => {
  const netnsBefore = await netnsOf();
  const clustersBefore = await listed();
  const cases: Array<[string[], number, RegExp]> = [
    [['--workload-runtime', 'Kata'], 1, /\(InvalidParameter\) --workload-runtime "Kata" is not one of OCIContainer, KataVmIsolation, KataMshvVmIsolation/],
    [['--workload-runtime', 'KataVmIsolation', '--os-sku', 'Ubuntu'], 1, /\(InvalidWorkloadRuntimeSettingError\) --workload-runtime KataVmIsolation requires --os-sku AzureLinux; Ubuntu is not supported/],
    [['--workload-runtime', 'KataMshvVmIsolation', '--os-sku', 'Windows2022'], 1, /\(InvalidWorkloadRuntimeSettingError\) .*requires --os-sku AzureLinux/],
    [['--workload-runtime', 'KataVmIsolation', '--os-sku', 'AzureLinux', '--node-vm-size', 'Standard_DS2_v2'], 1,
      /\(InvalidWorkloadRuntimeSettingError\) .*Standard_DS2_v2 \(DSv2 series\) does not support nested virtualization\. Use a size that does, such as Standard_D2s_v3 \(2 vCPUs, 8 GiB\)/],
    [['--node-vm-size', 'Standard_Q9_v9'], 1, /\(InvalidVMSize\) --node-vm-size "Standard_Q9_v9" is not a size this machine knows/],
    [['--nodepool-name', 'Pool_1'], 1, /\(InvalidAgentPoolName\) node pool name "Pool_1" is not valid/],
    [['--node-count', '0'], 1, /\(InvalidNodeCount\) --node-count 0 is not valid/],
    [['--node-count', '5000'], 1, /\(InvalidNodeCount\) --node-count 5000 is more than this machine can carry/],
    [['--node-count', 'two'], 2, /--node-count: must be a whole number/],
    [['--pod-cidr', '10.224.0.0/12'], 1, /\(InvalidPodSubnet\) --pod-cidr 10\.224\.0\.0\/12 overlaps the node networks/],
    [['--pod-subnet', '10.224.3.0/24'], 1, /\(InvalidPodSubnet\) --pod-subnet 10\.224\.3\.0\/24 overlaps the node network/],
    [['--pod-subnet', '10.30.0.0/26'], 1, /\(InvalidPodSubnet\) 10\.30\.0\.0\/26 has room for 0 more node\(s\)/],
    [['--os-sku', 'Windows2019'], 1, /\(InvalidOSSku\) .*Windows nodes cannot run on this Linux machine/],
    [['--max-pods', '5'], 1, /\(InvalidParameter\) --max-pods 5 is not valid: use 10 to 250/],
    [['--node-taints', 'a=b:Sometimes'], 1, /\(InvalidParameter\) --node-taints "a=b:Sometimes" is not key=value:Effect/],
    [['--enable-magic'], 2, /unknown flag --enable-magic/],
  ];
  for (const [flags, code, message] of cases) {
    const r = await sp(['create', '--name', 'refused', ...flags]);
    assert.equal(r.code, code, `create ${flags.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
  assert.equal(await listed(), clustersBefore, 'no cluster was recorded');
  assert.deepEqual(await netnsOf(), netnsBefore, 'no network namespace was made');
  assert.deepEqual(await processesWhere((cmd) => cmd.includes(join(stateRoot, 'clusters', 'local', 'refused'))), [], 'no process was started');
  assert.equal(existsSync(join(stateRoot, 'clusters', 'local', 'refused')), false, 'no file was written');
});

let trustedNode = '';
const pools = kubeconfigOf('local', 'pools');

test('a plain pool of 2 nodes and a VM pool of 1, each with its own pod subnet: the walkthrough\'s pods land on their pools and reach each other', async (t) => {
  const examples = join(repoRoot, 'examples');
  // Its nodes are marked unreachable after 20 s without a Lease renewal, not 40: the test of that waits less.
  await spOk(['create', '--name', 'pools', '--node-count', '2', '--pod-subnet', '10.20.0.0/16'], undefined, { SANDPOD_NODE_MONITOR_GRACE_SECONDS: String(POOLS_GRACE_S) });
  // No pool runs VM isolation yet: the VM pod waits, and says why.
  await ok(pools, ['apply', '-f', join(examples, 'untrusted-vm-pod.yaml')]);
  await waitFor('untrusted to be unschedulable', async () => /No node has the label kubernetes\.azure\.com\/kata-vm-isolation=true, which RuntimeClass kata-vm-isolation selects/
    .test(await ok(pools, ['get', 'pod', 'untrusted', '-o', 'jsonpath={.status.conditions[?(@.type=="PodScheduled")].message}'])), 60_000);
  await spOk(['nodepool', 'add', '--cluster-name', 'pools', '--name', 'kata', '--workload-runtime', 'KataVmIsolation', '--os-sku', 'AzureLinux',
    '--node-vm-size', 'Standard_D2s_v3', '--pod-subnet', '10.30.0.0/24', '--node-taints', 'kubernetes.azure.com/kata-vm-isolation=true:NoSchedule', '--labels', 'tier=sandbox']);
  await ok(pools, ['apply', '-f', join(examples, 'trusted-pod.yaml')]);
  await ok(pools, ['wait', '--for=condition=Ready', 'pod/trusted', 'pod/untrusted', '--timeout=300s']);
  const where = async (pod: string): Promise<[string, string]> => (await ok(pools, ['get', 'pod', pod, '-o', 'jsonpath={.spec.nodeName} {.status.podIP}'])).split(' ') as [string, string];
  const [untrustedNode, untrustedIp] = await where('untrusted');
  const [tNode, trustedIp] = await where('trusted');
  trustedNode = tNode;
  t.diagnostic(`untrusted on ${untrustedNode} at ${untrustedIp}; trusted on ${trustedNode} at ${trustedIp}`);
  assert.match(untrustedNode, /^aks-kata-\d{8}-vmss000000$/);
  assert.match(untrustedIp, /^10\.30\.0\.([0-9]|[1-9][0-9]|1[01][0-9]|12[0-6])$/, 'from the VM pool\'s subnet (its node has 10.30.0.0/25)');
  assert.match(trustedNode, /^aks-nodepool1-\d{8}-vmss00000[01]$/);
  assert.match(trustedIp, /^10\.20\.[01]\.\d+$/, 'from the plain pool\'s subnet');
  assert.equal(await ok(pools, ['get', 'node', untrustedNode, '-o', 'jsonpath={.metadata.labels.tier}']), 'sandbox', 'pool labels reach the node');

  for (const [from, to] of [['trusted', untrustedIp], ['untrusted', trustedIp]] as const) {
    const ping = await ok(pools, ['exec', from, '--', 'ping', '-c', '2', '-W', '5', to]);
    assert.match(ping, /2 packets transmitted, 2 packets received/, `${from} pings ${to}`);
  }
  // TCP both ways; the server prints its own /proc/net/tcp to the client, whose address there proves there is no NAT.
  const hexIp = (ip: string): string => ip.split('.').reverse().map((o) => Number(o).toString(16).padStart(2, '0')).join('').toUpperCase();
  for (const [server, client, serverIp, clientIp] of [['untrusted', 'trusted', untrustedIp, trustedIp], ['trusted', 'untrusted', trustedIp, untrustedIp]] as const) {
    const listener = spawn(kubectlVersions['1.32']!, ['--kubeconfig', pools, '--cache-dir', join(root, 'kc'), 'exec', server, '--', 'nc', '-l', '-p', '7000', '-e', 'cat', '/proc/net/tcp', '/proc/net/tcp6']);
    try {
      let table = '';
      await waitFor(`${client} to reach ${server} over TCP`, async () => {
        table = (await kubectl(['exec', client, '--', 'nc', '-w', '3', serverIp, '7000'], { kubeconfig: pools })).stdout;
        return table.includes(`${hexIp(serverIp)}:1B58 `);
      }, 60_000);
      // An IPv4 address, or one mapped into IPv6 (a listener on ::), ends in the address's 8 hex digits; the client has
      // already sent its end (nothing on its stdin), so the server's side is ESTABLISHED (01) or CLOSE_WAIT (08).
      const established = table.split('\n').map((l) => l.trim().split(/\s+/)).find((f) => f[1]?.endsWith(`${hexIp(serverIp)}:1B58`) && ['01', '08'].includes(f[3] ?? ''));
      assert.ok(established, `${server} saw the connection:\n${table}`);
      assert.equal(established[2]!.split(':')[0]!.slice(-8), hexIp(clientIp), `${server} saw ${client}'s own pod IP ${clientIp}: no NAT`);
    } finally {
      listener.kill();
    }
  }
});

test('a node whose agent stops goes NotReady and unreachable within its grace period while its pods run on, and comes back Ready', async () => {
  const [agent] = await processesWhere((cmd) => cmd.includes('daemon.js\0node\0') && cmd.includes(`\0${trustedNode}\0`) && cmd.includes(root));
  assert.ok(agent, `the agent of ${trustedNode} runs`);
  const untrustedIp = await ok(pools, ['get', 'pod', 'untrusted', '-o', 'jsonpath={.status.podIP}']);
  const trustedIp = await ok(pools, ['get', 'pod', 'trusted', '-o', 'jsonpath={.status.podIP}']);
  process.kill(agent, 'SIGSTOP');
  try {
    const t0 = Date.now();
    await waitFor(`${trustedNode} to be NotReady and tainted unreachable`, async () => {
      const node = await ok(pools, ['get', 'node', trustedNode, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status} {.spec.taints[*].key}']);
      return /^Unknown .*node\.kubernetes\.io\/unreachable/.test(node);
    }, 70_000);
    const took = (Date.now() - t0) / 1000;
    // Marked once the Lease is older than the grace period: at most a renewal interval (10 s) and a look later.
    assert.ok(took < POOLS_GRACE_S + 15, `unreachable after ${took.toFixed(0)} s, with a grace period of ${POOLS_GRACE_S} s`);
    assert.match(await ok(pools, ['exec', 'untrusted', '--', 'ping', '-c', '1', '-W', '5', trustedIp]), /1 packets received/, 'the pod on the silent node still runs and answers');
  } finally {
    process.kill(agent, 'SIGCONT');
  }
  await waitFor(`${trustedNode} to be Ready without the taint`, async () => {
    const node = await ok(pools, ['get', 'node', trustedNode, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status} {.spec.taints}']);
    return node.startsWith('True') && !node.includes('node.kubernetes.io/');
  }, 60_000);
  assert.match(await ok(pools, ['exec', 'trusted', '--', 'ping', '-c', '1', '-W', '5', untrustedIp]), /1 packets received/);
  assert.equal(await ok(pools, ['get', 'pod', 'trusted', '-o', 'jsonpath={.status.containerStatuses[0].restartCount}']), '0', 'the pod ran on');
});

test('supervised daemons that die come back: the API server and a node\'s containerd, each logged and reported by status', async () => {
  const statusOf = async (): Promise<string> => (await sp(['status', '--name', 'pools'])).stdout;
  const pidOf = async (name: RegExp): Promise<number> => Number(new RegExp(`${name.source} +pid (\\d+)`).exec(await statusOf())?.[1]);
  const api = await pidOf(/apiserver/);
  const containerd = await pidOf(new RegExp(`containerd/${trustedNode}`));
  assert.ok(api > 0 && containerd > 0);
  assert.ok(await pidOf(/controller-manager/) > 0, 'status lists the controller manager');
  process.kill(api, 'SIGKILL');
  process.kill(containerd, 'SIGKILL');
  await waitFor('both to be restarted', async () => {
    const s = await statusOf();
    return /apiserver +pid \d+ +running, restarted 1×/.test(s) && new RegExp(`containerd/${trustedNode} +pid \\d+ +running, restarted 1×`).test(s);
  }, 60_000);
  await waitFor('kubectl to work again', async () => (await kubectl(['get', 'nodes'], { kubeconfig: pools })).code === 0, 30_000);
  const log = readFileSync(join(stateRoot, 'clusters', 'local', 'pools', 'logs', 'supervisor.log'), 'utf8');
  assert.match(log, /"msg":"daemon exited; restarting after back-off","object":"apiserver"/);
  assert.match(log, /"msg":"daemon restarted","object":"apiserver"/);
  // The node agent reaches the new containerd within its reconnect back-off (2 s at most).
  await waitFor('exec through the restarted containerd', async () => (await kubectl(['exec', 'trusted', '--', 'true'], { kubeconfig: pools })).code === 0, 15_000);
  assert.equal((await sp(['status', '--name', 'pools'])).code, 0, 'status: everything runs again');

  // An agent stopped on purpose (SIGTERM, as stop and down do) marks its node NotReady at once, with the reason.
  const [agent] = await processesWhere((cmd) => cmd.includes('daemon.js\0node\0') && cmd.includes(`\0${trustedNode}\0`) && cmd.includes(root));
  assert.ok(agent);
  const client = KubeClient.fromKubeconfig(pools);
  try {
    const ready = async (): Promise<Record<string, unknown> | undefined> => {
      const conditions = ((await client.get(`/api/v1/nodes/${trustedNode}`))['status'] as { conditions?: Array<Record<string, unknown>> }).conditions ?? [];
      return conditions.find((c) => c['type'] === 'Ready');
    };
    process.kill(agent, 'SIGTERM');
    const stopped = await waitUntil(async () => ((await ready())?.['reason'] === 'NodeAgentStopped' ? ready() : undefined),
      { timeoutMs: 10_000, intervalMs: 100, onTimeout: () => new Error(`${trustedNode} was never marked NodeAgentStopped`) });
    assert.equal(stopped?.['status'], 'False');
    assert.match(String(stopped?.['message']), /stopped on purpose/);
    await waitFor(`${trustedNode} Ready again, its agent started by the supervisor`, async () => (await ready())?.['status'] === 'True', 60_000);
  } finally {
    client.close();
  }
});

test('pool rules on a running cluster refuse and change nothing; scale-down drains; pool delete removes its nodes and pods', async () => {
  const before = (await spOk(['show', '--name', 'pools'])).stdout;
  const netnsBefore = await netnsOf();
  const refused: Array<[string[], RegExp]> = [
    [['nodepool', 'add', '--cluster-name', 'pools', '--name', 'kata'], /\(AgentPoolAlreadyExists\) node pool "kata" already exists/],
    [['nodepool', 'add', '--cluster-name', 'pools', '--name', 'more', '--pod-subnet', '10.30.0.0/25'], /\(InvalidPodSubnet\) --pod-subnet 10\.30\.0\.0\/25 overlaps node pool kata's pod subnet 10\.30\.0\.0\/24/],
    [['nodepool', 'add', '--cluster-name', 'pools', '--name', 'more', '--pod-subnet', '10.20.128.0/17'], /\(InvalidPodSubnet\) --pod-subnet 10\.20\.128\.0\/17 overlaps node pool nodepool1's pod subnet 10\.20\.0\.0\/16/],
    [['nodepool', 'scale', '--cluster-name', 'pools', '--name', 'kata', '--node-count', '3'], /\(InvalidPodSubnet\) 10\.30\.0\.0\/24 has room for 2 more node\(s\)/],
    [['nodepool', 'delete', '--cluster-name', 'pools', '--name', 'nodepool1'], /\(OperationNotAllowed\) node pool nodepool1 is the cluster's last System pool/],
    [['nodepool', 'show', '--cluster-name', 'pools', '--name', 'nope'], /has no node pool "nope"; its pools are nodepool1, kata/],
  ];
  for (const [args, message] of refused) {
    const r = await sp(args);
    assert.notEqual(r.code, 0, args.join(' '));
    assert.match(r.stderr, message);
  }
  const after1 = (await spOk(['show', '--name', 'pools'])).stdout;
  assert.equal(after1, before, 'the cluster is as it was');
  assert.deepEqual(await netnsOf(), netnsBefore);

  // A plain pod on the node that scaling down removes (the newest), drained away first.
  const nodes = (await ok(pools, ['get', 'nodes', '-l', 'agentpool=nodepool1', '-o', 'jsonpath={.items[*].metadata.name}'])).split(' ').sort();
  const leaving = nodes[nodes.length - 1]!;
  await ok(pools, ['run', 'doomed', '--image', 'busybox', '--overrides', JSON.stringify({ spec: { nodeName: leaving, terminationGracePeriodSeconds: 2 } }), '--', 'sleep', '3600']);
  await ok(pools, ['wait', '--for=condition=Ready', 'pod/doomed', '--timeout=120s']);
  const doomedProcesses = await containerProcesses((await ok(pools, ['get', 'pod', 'doomed', '-o', 'jsonpath={.status.containerStatuses[0].containerID}'])).replace('containerd://', ''));
  assert.ok(doomedProcesses.length > 0);
  const scale = await spOk(['nodepool', 'scale', '--cluster-name', 'pools', '--name', 'nodepool1', '--node-count', '1', '-o', 'json']);
  assert.equal((JSON.parse(scale.stdout) as { count: number }).count, 1);
  assert.match((await kubectl(['get', 'pod', 'doomed'], { kubeconfig: pools })).stderr, /not found/, 'the drained pod is gone');
  assert.match((await kubectl(['get', 'node', leaving], { kubeconfig: pools })).stderr, /not found/, 'the node is gone');
  assert.equal((await netnsOf()).length, netnsBefore.length - 1, 'and its namespace');
  assert.deepEqual(doomedProcesses.filter((p) => existsSync(`/proc/${p}`)), [], 'its container was stopped');

  const ip = await ok(pools, ['get', 'pod', 'trusted', '-o', 'jsonpath={.status.podIP}']);
  if ((await ok(pools, ['get', 'pod', 'trusted', '-o', 'jsonpath={.spec.nodeName}'])) !== leaving) {
    assert.match(await ok(pools, ['exec', 'untrusted', '--', 'ping', '-c', '1', '-W', '5', ip]), /1 packets received/, 'routes still right after the scale');
  }
  await spOk(['nodepool', 'delete', '--cluster-name', 'pools', '--name', 'kata']);
  assert.doesNotMatch(await ok(pools, ['get', 'pods', '-o', 'name']), /pod\/untrusted/, 'the pool\'s pods went with it');
  assert.equal((await ok(pools, ['get', 'nodes', '-o', 'name'])).trim().split('\n').length, 1);
  assert.deepEqual(await processesWhere((cmd) => cmd.startsWith('qemu-system') && cmd.includes(root) && !cmd.includes('\0sandpod-template-')), [], 'its VM is gone');
});

test('two clusters side by side: same pod range, separate networks; deleting one leaves nothing of it and the other runs on', async () => {
  await spOk(['create', '--name', 'side', '--pod-cidr', '10.244.0.0/16']);
  const side = kubeconfigOf('local', 'side');
  await ok(side, ['run', 'p', '--image', 'busybox', '--', 'sleep', '3600']);
  await ok(pools, ['run', 'p', '--image', 'busybox', '--', 'sleep', '3600']);
  await ok(side, ['wait', '--for=condition=Ready', 'pod/p', '--timeout=120s']);
  await ok(pools, ['wait', '--for=condition=Ready', 'pod/p', '--timeout=120s']);
  const sideKey = clusterKey(stateRoot, { resourceGroup: 'local', name: 'side' });
  await spOk(['delete', '--name', 'side', '--yes']);
  assert.deepEqual(await clusterTraces(join(stateRoot, 'clusters', 'local', 'side'), sideKey), []);
  assert.deepEqual((await netnsOf()).filter((n) => n.startsWith(`sandpod-${sideKey}`)), []);
  assert.equal(existsSync(join(stateRoot, 'clusters', 'local', 'side')), false);
  assert.match(await ok(pools, ['get', 'nodes']), /Ready/);
  const ip = await ok(pools, ['get', 'pod', 'p', '-o', 'jsonpath={.status.podIP}']);
  assert.match(await ok(pools, ['exec', 'trusted', '--', 'ping', '-c', '1', '-W', '5', ip]), /1 packets received/, 'the other cluster\'s pods still reach each other');
  await spOk(['stop', '--name', 'pools']);
  assert.deepEqual(await clusterTraces(join(stateRoot, 'clusters', 'local', 'pools'), clusterKey(stateRoot, { resourceGroup: 'local', name: 'pools' })), [], 'stop leaves nothing running either');
  assert.equal(JSON.parse((await spOk(['show', '--name', 'pools'])).stdout).powerState.code, 'Stopped');
  await spOk(['delete', '--name', 'pools', '--yes']);
  assert.equal(await listed(), '');
});
