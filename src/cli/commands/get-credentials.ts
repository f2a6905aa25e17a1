/**
 * `sandpod get-credentials`: merges a cluster's credentials into $KUBECONFIG (its first file) or ~/.kube/config, as
 * `az aks get-credentials` does, and makes its context current; `--file PATH` writes elsewhere, `--file -` prints.
 */
import { z } from 'zod';
import { Cluster, credentialsFrom, defaultKubeconfigPath, describeCluster, kubeconfigText, mergeKubeconfig } from '../../cluster/index.js';
import { failedPrecondition } from '../../errors.js';
import { commonSchema, ID_FLAGS, idOf, idSchema, storeOf } from '../cluster-flags.js';
import { commandFlags } from '../flags.js';

const FLAGS = {
  ...ID_FLAGS,
  file: { type: 'string', short: 'f' },
  'overwrite-existing': { type: 'boolean' },
  admin: { type: 'boolean', short: 'a', ignored: 'there is one user, the cluster\'s administrator, whose credentials these are' },
} as const;
const schema = z.object({ ...commonSchema, ...idSchema, file: z.string().optional(), 'overwrite-existing': z.boolean().optional() }).strict();

export default async function run(argv: string[]): Promise<number> {
  const v = commandFlags('get-credentials', argv, FLAGS, schema, `usage: sandpod get-credentials --name NAME [--resource-group GROUP] [--file PATH|-]

Merges the cluster's credentials into $KUBECONFIG (its first file) or ~/.kube/config and makes its context (the
cluster's name) current; entries of the same names are replaced. --file writes to PATH instead, --file - prints.\n`);
  if (!v) return 0;
  const cluster = Cluster.open(storeOf(v), idOf('get-credentials', v));
  if (!cluster.running) {
    process.stderr.write(`sandpod get-credentials: warning: ${describeCluster(cluster.id)} is stopped; kubectl will reach it once "sandpod start" has run\n`);
  }
  let creds;
  try {
    creds = credentialsFrom(cluster.layout.kubeconfig, cluster.record.resourceGroup, cluster.record.name);
  } catch (err) {
    throw failedPrecondition(describeCluster(cluster.id), `it has no credentials yet (it never started); start it with "sandpod start"`, err);
  }
  if (v.file === '-') {
    process.stdout.write(kubeconfigText(creds));
    return 0;
  }
  const file = v.file ?? defaultKubeconfigPath();
  const { replaced } = mergeKubeconfig(file, creds);
  process.stderr.write(`Merged "${creds.context}" as current context in ${file}${replaced ? ' (replacing entries of the same names)' : ''}\n`);
  return 0;
}
