/**
 * `sandpod up`: the whole local cluster — etcd, the API server, the scheduler, the image registry with the lab
 * images, containerd (runc and sandpod-vm) and a node agent — then prints what runs and what to try.
 */
import { upCluster } from '../../cluster/index.js';
import { ensureGuestImage } from '../../guest/index.js';
import { parse, pathsFrom } from '../options.js';

const help = `usage: sandpod up [--state-dir DIR] [--run-dir DIR] [--etcd-endpoints URL[,URL]] [--pod-subnet CIDR] [--bridge NAME]

Starts the local cluster: etcd (unless --etcd-endpoints names an existing cluster), the API server, the
scheduler, the image registry (busybox, stress and pause pushed into it), containerd with the runtime
handlers runc and sandpod-vm, and one node agent. A cluster left behind by a crash is cleaned up first.
The node's pods get addresses from --pod-subnet (a /24, default 10.244.0.0/24) on the bridge --bridge
(default sandpod0). Stop it with "sandpod down"; "sandpod status" says what runs.`;

export default async function run(argv: string[]): Promise<number> {
  const { values } = parse('up', argv, { 'etcd-endpoints': { type: 'string' }, 'pod-subnet': { type: 'string' }, bridge: { type: 'string' } });
  if (values.help) {
    process.stdout.write(`${help}\n`);
    return 0;
  }
  const paths = pathsFrom(values);
  const started = Date.now();
  const progress = (step: string): void => { process.stdout.write(`  ${step}…\n`); };
  progress('checking the guest image (kernel, initramfs, runtime)');
  await ensureGuestImage(paths, undefined, progress);
  const info = await upCluster(paths, {
    ...(values['etcd-endpoints'] ? { etcdEndpoints: values['etcd-endpoints'].split(',') } : {}),
    ...(values['pod-subnet'] ? { podSubnet: values['pod-subnet'] } : {}),
    ...(values.bridge ? { bridge: values.bridge } : {}),
    progress,
  });
  const kc = info.controlPlane.kubeconfig;
  process.stdout.write([
    `cluster up in ${((Date.now() - started) / 1000).toFixed(1)}s:`,
    `  API server   ${info.controlPlane.apiServer} (etcd ${info.controlPlane.etcdEndpoints.join(',')})`,
    `  registry     ${info.registryUrl} (busybox, stress, pause; "image: busybox" pulls from it)`,
    `  node         ${info.node.name}: containerd (runc, sandpod-vm), pods on ${info.node.subnet} (bridge ${info.node.bridge})`,
    `kubeconfig: ${kc}`,
    'next:',
    `  export KUBECONFIG=${kc}`,
    '  kubectl get nodes,runtimeclass',
    '  kubectl apply -f examples/trusted-pod.yaml -f examples/untrusted-vm-pod.yaml',
    '  kubectl exec untrusted -- uname -r   # the guest kernel; trusted shows the host\'s',
    '  sandpod status; sandpod down',
    '',
  ].join('\n'));
  return 0;
}
