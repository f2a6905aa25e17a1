/**
 * `sandpod up`: the one-command local cluster. Creates the cluster `default` (resource group local: one System
 * pool, VM isolation enabled, plain pods too, nodes sized to this machine) or starts it again, then prints what runs
 * and what to try.
 */
import { cpus, totalmem } from 'node:os';
import { z } from 'zod';
import { Cluster, describeCluster, largestFitting, LOCAL_RESOURCE_GROUP } from '../../cluster/index.js';
import { ensureGuestImage } from '../../guest/index.js';
import { commonSchema, printNotes, storeOf } from '../cluster-flags.js';
import { commandFlags } from '../flags.js';
import { cliLogger } from '../options.js';

const help = `usage: sandpod up [--state-dir DIR] [--run-dir DIR] [--etcd-endpoints URL[,URL]] [--pod-subnet CIDR]

Creates and starts the local cluster "default" (resource group local) the first time, and starts it again after
"sandpod down": etcd (unless --etcd-endpoints names an existing cluster), the API server, the scheduler, the
controller manager, the image registry (busybox, stress and pause pushed into it), and one node pool (nodepool1, workload runtime
KataVmIsolation: VM pods and plain pods) of one node, its own host with containerd (runc, sandpod-vm) and a node
agent. --pod-subnet is the cluster's pod range when it is created (default 10.244.0.0/16), one block per node.
A supervisor restarts any daemon that dies; "sandpod status" says what runs, "sandpod down" stops it and keeps its
data, "sandpod delete --name default --yes" removes it and its data. More clusters: "sandpod create --help".`;

const FLAGS = {
  'etcd-endpoints': { type: 'string' },
  'pod-subnet': { type: 'string' },
  bridge: { type: 'string', ignored: 'each node has its own pod bridge (cbr0) inside its own network namespace' },
} as const;
const schema = z.object({ ...commonSchema, 'etcd-endpoints': z.string().optional(), 'pod-subnet': z.string().optional() }).strict();

export default async function run(argv: string[]): Promise<number> {
  const v = commandFlags('up', argv, FLAGS, schema, `${help}\n`);
  if (!v) return 0;
  const store = storeOf(v);
  const started = Date.now();
  const progress = (step: string): void => { process.stdout.write(`  ${step}…\n`); };
  const opts = { progress, log: cliLogger('up', process.env['SANDPOD_LOG_FILE']) };
  const id = { resourceGroup: LOCAL_RESOURCE_GROUP, name: 'default' };
  const release = store.lock(id);
  process.once('exit', release);
  progress('checking the guest image (kernel, initramfs, runtime)');
  await ensureGuestImage(store.paths, undefined, progress);
  let cluster: Cluster;
  if (!store.get(id)) {
    const size = largestFitting('Dsv3', cpus().length, totalmem() / 2 ** 30);
    const verdict = await Cluster.create(store, {
      ...id, pool: { name: 'nodepool1', workloadRuntime: 'KataVmIsolation', osSku: 'AzureLinux', vmSize: size.name, count: 1 },
      ...(v['pod-subnet'] ? { podCidr: v['pod-subnet'] } : {}), ...(v['etcd-endpoints'] ? { etcdEndpoints: v['etcd-endpoints'].split(',') } : {}),
    }, opts);
    printNotes('up', verdict.notes, verdict.warnings);
    cluster = verdict.value;
  } else {
    cluster = Cluster.open(store, id, opts);
    if (v['pod-subnet'] && v['pod-subnet'] !== cluster.record.network.podCidr) {
      printNotes('up', [`${describeCluster(id)} exists with the pod range ${cluster.record.network.podCidr}; --pod-subnet is used only when up creates it`], []);
    }
    const how = await cluster.resume();
    if (how === 'running') process.stdout.write(`${describeCluster(id)} is already running; "sandpod status" says what runs\n`);
    if (how === 'supervisor restarted') process.stdout.write('the supervisor had stopped: started it again; it restarts any daemon that died\n');
  }
  const status = await cluster.status();
  const kc = cluster.layout.kubeconfig;
  process.stdout.write([
    `cluster up in ${((Date.now() - started) / 1000).toFixed(1)}s:`,
    `  API server   ${status.apiServer ?? '?'} (etcd ${cluster.etcdEndpoints().join(',')}; the nodes reach it at ${cluster.hostAddress})`,
    `  registry     ${status.registry ?? 'not running'} (busybox, stress, pause; "image: busybox" pulls from it)`,
    ...(status.nodes ?? []).map((n) => `  node         ${n.name} (${n.ready ? 'Ready' : `NotReady: ${n.reason ?? ''}`}): address ${n.address}, pods on ${n.podCidr}; containerd (runc, sandpod-vm)`),
    `  supervisor   ${status.supervisor ? `pid ${status.supervisor.pid}` : 'not running'} (restarts any daemon that dies)`,
    `kubeconfig: ${kc}`,
    'next:',
    `  export KUBECONFIG=${kc}      # or: sandpod get-credentials --name default`,
    '  kubectl get nodes,runtimeclass',
    '  kubectl apply -f examples/trusted-pod.yaml -f examples/untrusted-vm-pod.yaml',
    '  kubectl exec untrusted -- uname -r   # the guest kernel; trusted shows the host\'s',
    '  sandpod status; sandpod down',
    '',
  ].join('\n'));
  return 0;
}
