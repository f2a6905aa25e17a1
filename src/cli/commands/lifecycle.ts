/** `sandpod start`, `stop` and `delete`: a cluster's lifecycle, one verb each. */
import { createInterface } from 'node:readline/promises';
import { z } from 'zod';
import { Cluster, describeCluster } from '../../cluster/index.js';
import { clusterOptions, commonSchema, ID_FLAGS, idOf, idSchema, NO_WAIT_FLAG, storeOf } from '../cluster-flags.js';
import { commandFlags } from '../flags.js';
import { UsageError } from '../options.js';

const schema = z.object({ ...commonSchema, ...idSchema, yes: z.boolean().optional() }).strict();

function open(command: string, argv: string[], extra: Record<string, { type: 'boolean'; short?: string }>, help: string): { cluster: Cluster; yes: boolean } | undefined {
  const v = commandFlags(command, argv, { ...ID_FLAGS, ...NO_WAIT_FLAG, ...extra }, schema, `${help}\n`);
  if (!v) return undefined;
  const store = storeOf(v);
  const id = idOf(command, v);
  const release = store.lock(id);
  process.once('exit', release);
  return { cluster: Cluster.open(store, id, clusterOptions(command)), yes: v.yes === true };
}

export async function start(argv: string[]): Promise<number> {
  const o = open('start', argv, {}, 'usage: sandpod start --name NAME [--resource-group GROUP]\n\nStarts a stopped cluster with its data: control plane, registry, every node; pods bound to its nodes run again.');
  if (!o) return 0;
  await o.cluster.start();
  process.stdout.write(`${describeCluster(o.cluster.id)} is running; kubeconfig: ${o.cluster.layout.kubeconfig}\n`);
  return 0;
}

export async function stop(argv: string[]): Promise<number> {
  const o = open('stop', argv, {}, 'usage: sandpod stop --name NAME [--resource-group GROUP]\n\nStops a cluster and keeps its data: nodes are marked NotReady, pods removed (VMs included), every process ended.');
  if (!o) return 0;
  const stopped = await o.cluster.stop();
  process.stdout.write(`${describeCluster(o.cluster.id)} stopped${stopped.length > 0 ? ` (${stopped.join(', ')})` : ''}; "sandpod start" starts it again\n`);
  return 0;
}

export async function remove(argv: string[]): Promise<number> {
  const o = open('delete', argv, { yes: { type: 'boolean', short: 'y' } },
    'usage: sandpod delete --name NAME [--resource-group GROUP] [--yes]\n\nDeletes a cluster and all its data: processes, pods, network namespaces, etcd, images, logs.');
  if (!o) return 0;
  const what = describeCluster(o.cluster.id);
  if (!o.yes) {
    if (!process.stdin.isTTY) throw new UsageError(`sandpod delete: deleting ${what} removes all its data; add --yes to confirm`);
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    const answer = await rl.question(`Are you sure you want to delete ${what} and all its data? (y/n): `);
    rl.close();
    if (!/^y(es)?$/i.test(answer.trim())) {
      process.stderr.write('not deleted\n');
      return 1;
    }
  }
  await o.cluster.delete();
  process.stdout.write(`${what} deleted\n`);
  return 0;
}
