/** `sandpod create`: a cluster with one node pool, as `az aks create` makes one, checked before anything is made. */
import { z } from 'zod';
import { Cluster, clusterView } from '../../cluster/index.js';
import { clusterOptions, commonSchema, CREATE_IGNORED, ID_FLAGS, idOf, idSchema, POOL_FLAGS, poolRequest, poolSchema, printNotes, storeOf } from '../cluster-flags.js';
import { commandFlags, OUTPUT_FLAGS } from '../flags.js';
import { render } from '../output.js';
import { clusterColumns } from './show.js';

const help = `usage: sandpod create --name NAME [--resource-group GROUP] [--workload-runtime RUNTIME] [--os-sku SKU]
                      [--node-vm-size SIZE] [--node-count N] [--max-pods N] [--nodepool-name NAME] [--mode System]
                      [--pod-cidr CIDR] [--pod-subnet CIDR] [--labels K=V …] [--node-taints K=V:EFFECT,…] [-o FORMAT]

Creates a cluster on this machine and starts it: a control plane, a registry, and a first node pool (System mode,
named nodepool1) of --node-count nodes, each its own host with its own containerd and node agent.
  --workload-runtime   OCIContainer (default), KataVmIsolation (VM-isolated pods), KataMshvVmIsolation (legacy name)
  --os-sku             AzureLinux (aliases Mariner, CBLMariner; required for VM isolation) or Ubuntu (default)
  --node-vm-size       an Azure size, e.g. Standard_D4s_v3 (default Standard_D2s_v3); it sets the nodes' capacity
  --pod-cidr           the cluster's pod range, split into one block per node (default 10.244.0.0/16)
  --pod-subnet         a pod subnet of the first pool's own, instead of the cluster's pod range
  --resource-group     default: "local"
Flags of az aks create that mean nothing here (--generate-ssh-keys, --location, …) are accepted and ignored.
Then: sandpod get-credentials --name NAME; kubectl get nodes.`;

const FLAGS = { ...ID_FLAGS, ...POOL_FLAGS, ...CREATE_IGNORED, ...OUTPUT_FLAGS, 'nodepool-name': { type: 'string' }, 'pod-cidr': { type: 'string' } } as const;
const schema = z.object({ ...commonSchema, ...idSchema, ...poolSchema, 'nodepool-name': z.string().optional(), 'pod-cidr': z.string().optional() }).strict();

export default async function run(argv: string[]): Promise<number> {
  const v = commandFlags('create', argv, FLAGS, schema, `${help}\n`);
  if (!v) return 0;
  const id = idOf('create', v);
  const store = storeOf(v);
  process.once('exit', store.lock(id));
  const verdict = await Cluster.create(store, {
    ...id, pool: poolRequest(v['nodepool-name'] ?? 'nodepool1', v), ...(v['pod-cidr'] ? { podCidr: v['pod-cidr'] } : {}),
  }, clusterOptions('create'));
  printNotes('create', verdict.notes, verdict.warnings);
  process.stdout.write(render(clusterView(verdict.value.record), v.output, clusterColumns));
  return 0;
}
