/** `sandpod down`: removes the pods and stops what `sandpod up` started, by PID. Cluster data stays. */
import { parseArgs } from 'node:util';
import { downCluster } from '../../cluster/index.js';
import { resolvePaths } from '../../paths.js';

export default async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { 'state-dir': { type: 'string' }, 'run-dir': { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write('usage: sandpod down [--state-dir DIR] [--run-dir DIR]\n\nRemoves the pods (VMs included) and stops the node, the registry and the control plane that "sandpod up" started; cluster data is kept.\n');
    return 0;
  }
  const paths = resolvePaths({
    ...(values['state-dir'] ? { stateRoot: values['state-dir'] } : {}),
    ...(values['run-dir'] ? { runRoot: values['run-dir'] } : {}),
  });
  const stopped = await downCluster(paths, { progress: (step) => process.stdout.write(`  ${step}…\n`) });
  process.stdout.write(stopped.length === 0 ? 'nothing was running\n' : `stopped ${stopped.join(', ')}\n`);
  return 0;
}
