/** `sandpod list`: every cluster on this machine (or of one resource group). */
import { z } from 'zod';
import { clusterView } from '../../cluster/index.js';
import { commonSchema, storeOf } from '../cluster-flags.js';
import { commandFlags, OUTPUT_FLAGS } from '../flags.js';
import { render } from '../output.js';
import { clusterColumns } from './show.js';

const schema = z.object({ ...commonSchema, 'resource-group': z.string().optional() }).strict();

export default async function run(argv: string[]): Promise<number> {
  const v = commandFlags('list', argv, { 'resource-group': { type: 'string', short: 'g' }, ...OUTPUT_FLAGS }, schema, 'usage: sandpod list [--resource-group GROUP] [-o json|yaml|table|tsv]\n\nLists the clusters on this machine.\n');
  if (!v) return 0;
  const clusters = storeOf(v).list(v['resource-group']).map(clusterView);
  process.stdout.write(render(clusters, v.output, clusterColumns));
  return 0;
}
