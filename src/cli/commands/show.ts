/** `sandpod show`: one cluster, in the managed service's JSON shape (or -o yaml|table). */
import { z } from 'zod';
import { Cluster, clusterView, type ClusterView } from '../../cluster/index.js';
import { commonSchema, ID_FLAGS, idOf, idSchema, storeOf } from '../cluster-flags.js';
import { commandFlags, OUTPUT_FLAGS } from '../flags.js';
import { render, type Column } from '../output.js';

export const clusterColumns: Column<ClusterView>[] = [
  { header: 'Name', value: (c) => c.name },
  { header: 'ResourceGroup', value: (c) => c.resourceGroup },
  { header: 'KubernetesVersion', value: (c) => c.kubernetesVersion },
  { header: 'ProvisioningState', value: (c) => c.provisioningState },
  { header: 'PowerState', value: (c) => c.powerState.code },
  { header: 'Nodes', value: (c) => c.agentPoolProfiles.reduce((n, p) => n + p.count, 0) },
  { header: 'NodeSubnet', value: (c) => c.networkProfile.nodeSubnet },
  { header: 'ApiServer', value: (c) => c.apiServer ?? '-' },
];

const schema = z.object({ ...commonSchema, ...idSchema }).strict();

export default async function run(argv: string[]): Promise<number> {
  const v = commandFlags('show', argv, { ...ID_FLAGS, ...OUTPUT_FLAGS }, schema, 'usage: sandpod show --name NAME [--resource-group GROUP] [-o json|yaml|table|tsv]\n\nPrints a cluster: its state, network and node pools.\n');
  if (!v) return 0;
  const cluster = Cluster.open(storeOf(v), idOf('show', v));
  process.stdout.write(render(clusterView(cluster.record), v.output, clusterColumns));
  return 0;
}
