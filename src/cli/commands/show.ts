/** `sandpod show`: one cluster, in the managed service's JSON shape (or -o yaml|table). */
import { z } from 'zod';
import { Cluster, clusterView, type ClusterView } from '../../cluster/index.js';
import { commonSchema, ID_FLAGS, idOf, idSchema, storeOf } from '../cluster-flags.js';
import { checkFlags, OUTPUT_FLAGS, parseFlags, reportIgnored } from '../flags.js';
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
  const parsed = parseFlags('show', argv, { ...ID_FLAGS, ...OUTPUT_FLAGS });
  const v = checkFlags('show', schema, parsed.values);
  if (v.help) {
    process.stdout.write('usage: sandpod show --name NAME [--resource-group GROUP] [-o json|yaml|table|tsv]\n\nPrints a cluster: its state, network and node pools.\n');
    return 0;
  }
  reportIgnored('show', parsed);
  const cluster = Cluster.open(storeOf(v), idOf('show', v));
  process.stdout.write(render(clusterView(cluster.record), v.output, clusterColumns));
  return 0;
}
