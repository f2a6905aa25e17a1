/** `sandpod down`: stops the local cluster "default" (nodes marked NotReady, pods removed, every process ended); its data stays. */
import { z } from 'zod';
import { Cluster, LOCAL_RESOURCE_GROUP } from '../../cluster/index.js';
import { commonSchema, storeOf } from '../cluster-flags.js';
import { commandFlags } from '../flags.js';
import { cliLogger } from '../options.js';

const schema = z.object(commonSchema).strict();

export default async function run(argv: string[]): Promise<number> {
  const v = commandFlags('down', argv, {}, schema, 'usage: sandpod down [--state-dir DIR] [--run-dir DIR]\n\nStops the local cluster "default": its nodes are marked NotReady, its pods (VMs included) removed and every process of it ended; its data is kept for the next "sandpod up". "sandpod delete --name default --yes" removes it and its data.\n');
  if (!v) return 0;
  const store = storeOf(v);
  const id = { resourceGroup: LOCAL_RESOURCE_GROUP, name: 'default' };
  if (!store.get(id)) {
    process.stdout.write('nothing was running\n');
    return 0;
  }
  process.once('exit', store.lock(id));
  const cluster = Cluster.open(store, id, { progress: (step) => process.stdout.write(`  ${step}…\n`), log: cliLogger('down', process.env['SANDPOD_LOG_FILE']) });
  const stopped = await cluster.stop();
  process.stdout.write(stopped.length === 0 ? 'nothing was running\n' : `stopped ${stopped.join(', ')}\n`);
  return 0;
}
