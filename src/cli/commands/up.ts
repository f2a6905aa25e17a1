/** `sandpod up`: starts the local control plane (etcd, API server, scheduler) and prints the kubeconfig path. */
import { parseArgs } from 'node:util';
import { up } from '../../cluster/index.js';
import { resolvePaths } from '../../paths.js';

const help = `usage: sandpod up [--state-dir DIR] [--run-dir DIR] [--etcd-endpoints URL[,URL]]

Starts etcd (unless --etcd-endpoints names an existing cluster), the API server and the scheduler,
then prints the kubeconfig to use with kubectl. Stop them with "sandpod down".`;

export default async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'state-dir': { type: 'string' }, 'run-dir': { type: 'string' }, 'etcd-endpoints': { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${help}\n`);
    return 0;
  }
  const paths = resolvePaths({
    ...(values['state-dir'] ? { stateRoot: values['state-dir'] } : {}),
    ...(values['run-dir'] ? { runRoot: values['run-dir'] } : {}),
  });
  const started = Date.now();
  const state = await up(paths, {
    ...(values['etcd-endpoints'] ? { etcdEndpoints: values['etcd-endpoints'].split(',') } : {}),
    progress: (step) => process.stdout.write(`  ${step}…\n`),
  });
  process.stdout.write(`control plane up in ${((Date.now() - started) / 1000).toFixed(1)}s: API server ${state.apiServer}, etcd ${state.etcdEndpoints.join(',')}\n`);
  process.stdout.write(`kubeconfig: ${state.kubeconfig}\n`);
  process.stdout.write(`try: kubectl --kubeconfig ${state.kubeconfig} get runtimeclass\n`);
  return 0;
}
