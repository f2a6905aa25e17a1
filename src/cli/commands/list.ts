/** `sandpod list`: every cluster on this machine (or of one resource group). */
import { z } from 'zod';
import { clusterView } from '../../cluster/index.js';
import { commonSchema, storeOf } from '../cluster-flags.js';
import { checkFlags, OUTPUT_FLAGS, parseFlags, reportIgnored } from '../flags.js';
import { render } from '../output.js';
import { clusterColumns } from './show.js';

const schema = z.object({ ...commonSchema, 'resource-group': z.string().optional() }).strict();

export default async function run(argv: string[]): Promise<number> {
  const parsed = parseFlags('list', argv, { 'resource-group': { type: 'string', short: 'g' }, ...OUTPUT_FLAGS });
  const v = checkFlags('list', schema, parsed.values);
  if (v.help) {
    process.stdout.write('usage: sandpod list [--resource-group GROUP] [-o json|yaml|table|tsv]\n\nLists the clusters on this machine.\n');
    return 0;
  }
  reportIgnored('list', parsed);
  const clusters = storeOf(v).list(v['resource-group']).map(clusterView);
  process.stdout.write(render(clusters, v.output, clusterColumns));
  return 0;
}
