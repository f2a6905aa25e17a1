/** `sandpod down`: removes the pods and stops what `sandpod up` started, by PID. Cluster data stays. */
import { downCluster } from '../../cluster/index.js';
import { parse, pathsFrom } from '../options.js';

export default async function run(argv: string[]): Promise<number> {
  const { values } = parse('down', argv, {});
  if (values.help) {
    process.stdout.write('usage: sandpod down [--state-dir DIR] [--run-dir DIR]\n\nRemoves the pods (VMs included) and stops the node, the registry and the control plane that "sandpod up" started; cluster data is kept.\n');
    return 0;
  }
  const paths = pathsFrom(values);
  const stopped = await downCluster(paths, { progress: (step) => process.stdout.write(`  ${step}…\n`) });
  process.stdout.write(stopped.length === 0 ? 'nothing was running\n' : `stopped ${stopped.join(', ')}\n`);
  return 0;
}
