/** `sandpod nodepool add|list|show|scale|delete`: a cluster's node pools, as `az aks nodepool` manages them. */
import { z } from 'zod';
import { Cluster, poolView, type PoolView } from '../../cluster/index.js';
import { clusterOptions, commonSchema, idOf, NO_WAIT_FLAG, POOL_FLAGS, poolRequest, poolSchema, printNotes, storeOf, whole } from '../cluster-flags.js';
import { commandFlags, type FlagSet, OUTPUT_FLAGS } from '../flags.js';
import { UsageError } from '../options.js';
import { render, type Column } from '../output.js';

const help = `usage: sandpod nodepool <command> --cluster-name CLUSTER [--resource-group GROUP] …

commands:
  add    --name POOL [--workload-runtime RUNTIME] [--os-sku SKU] [--node-vm-size SIZE] [--node-count N] [--mode System|User]
         [--max-pods N] [--pod-subnet CIDR] [--labels K=V …] [--node-taints K=V:EFFECT,…]
                     adds a pool; its nodes start and join before the command returns
  list               the cluster's pools
  show   --name POOL one pool, with its nodes
  scale  --name POOL --node-count N
                     grows the pool, or drains (cordon, delete the pods) and removes its newest nodes
  delete --name POOL removes the pool's nodes and everything they ran (not the last System pool)
Output: -o json (default), yaml, table, tsv, none.`;

const columns: Column<PoolView>[] = [
  { header: 'Name', value: (p) => p.name },
  { header: 'OsSku', value: (p) => p.osSku },
  { header: 'VmSize', value: (p) => p.vmSize },
  { header: 'Count', value: (p) => p.count },
  { header: 'MaxPods', value: (p) => p.maxPods },
  { header: 'Mode', value: (p) => p.mode },
  { header: 'WorkloadRuntime', value: (p) => p.workloadRuntime },
  { header: 'PodSubnet', value: (p) => p.podSubnet },
  { header: 'ProvisioningState', value: (p) => p.provisioningState },
];

const BASE: FlagSet = { 'cluster-name': { type: 'string' }, 'resource-group': { type: 'string', short: 'g' }, name: { type: 'string', short: 'n' }, ...OUTPUT_FLAGS };
const base = { ...commonSchema, 'cluster-name': z.string().optional(), 'resource-group': z.string().optional(), name: z.string().optional() };

const sub: Record<string, { flags: FlagSet; schema: z.ZodType<{ help?: boolean | undefined }>; needsName: boolean; locks: boolean }> = {
  add: { flags: { ...BASE, ...POOL_FLAGS }, schema: z.object({ ...base, ...poolSchema }).strict(), needsName: true, locks: true },
  list: { flags: BASE, schema: z.object(base).strict(), needsName: false, locks: false },
  show: { flags: BASE, schema: z.object(base).strict(), needsName: true, locks: false },
  scale: { flags: { ...BASE, ...NO_WAIT_FLAG, 'node-count': { type: 'string', short: 'c' } }, schema: z.object({ ...base, 'node-count': whole.optional() }).strict(), needsName: true, locks: true },
  delete: { flags: { ...BASE, ...NO_WAIT_FLAG }, schema: z.object(base).strict(), needsName: true, locks: true },
};

type Values = z.infer<z.ZodObject<typeof base>> & z.infer<z.ZodObject<typeof poolSchema>>;

export default async function run(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === undefined || verb === '-h' || verb === '--help') {
    process.stdout.write(`${help}\n`);
    return verb === undefined ? 2 : 0;
  }
  const spec = sub[verb];
  if (!spec) throw new UsageError(`sandpod nodepool: unknown command "${verb}"; expected one of ${Object.keys(sub).join(', ')}`);
  const command = `nodepool ${verb}`;
  const v = commandFlags(command, rest, spec.flags, spec.schema, `${help}\n`) as Values | undefined;
  if (!v) return 0;
  if (spec.needsName && !v.name) throw new UsageError(`sandpod ${command}: --name is required: the node pool's name. See 'sandpod nodepool --help'`);
  const store = storeOf(v);
  const id = idOf(command, { name: v['cluster-name'], 'resource-group': v['resource-group'] }, '--cluster-name');
  if (spec.locks) process.once('exit', store.lock(id));
  const cluster = Cluster.open(store, id, clusterOptions(command));
  const print = (pool: { record: Parameters<typeof poolView>[1] }): void => { process.stdout.write(render(poolView(cluster.record, pool.record), v.output, columns)); };
  switch (verb) {
    case 'add': {
      const verdict = await cluster.addPool(poolRequest(v.name!, v));
      printNotes(command, verdict.notes, verdict.warnings);
      print(verdict.value);
      return 0;
    }
    case 'list':
      process.stdout.write(render(cluster.pools().map((p) => poolView(cluster.record, p.record)), v.output, columns));
      return 0;
    case 'show':
      print(cluster.pool(v.name!));
      return 0;
    case 'scale': {
      const pool = cluster.pool(v.name!);
      const verdict = await pool.scale((v as { 'node-count'?: number })['node-count']);
      printNotes(command, verdict.notes, verdict.warnings);
      print(pool);
      return 0;
    }
    default:
      await cluster.pool(v.name!).delete();
      process.stderr.write(`node pool ${v.name!} deleted from cluster ${cluster.record.name}\n`);
      return 0;
  }
}
