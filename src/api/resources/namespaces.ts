/** core/v1 Namespace. */
import { z } from 'zod';
import { ageColumn, at, checkObjectMeta, nameColumn, objectSchema, str, type ResourceDef } from './resource.js';
import { ensureDefaultServiceAccount } from './serviceaccounts.js';

export const namespaces: ResourceDef = {
  group: '', version: 'v1', kind: 'Namespace', plural: 'namespaces', singular: 'namespace', namespaced: false,
  shortNames: ['ns'], categories: [],
  subresources: [
    { name: 'status', kind: 'Namespace', verbs: ['get', 'patch', 'update'] },
    { name: 'finalize', kind: 'Namespace', verbs: ['update'] },
  ],
  schema: objectSchema({ spec: z.strictObject({ finalizers: z.array(z.string()).optional() }).optional(), status: z.unknown().optional() }),
  validate: (o) => checkObjectMeta(o, 'label'),
  columns: [
    nameColumn,
    { name: 'Status', type: 'string', priority: 0, description: 'The status of the namespace', cell: (o) => str(at(o, 'status', 'phase'), 'Active') },
    ageColumn,
  ],
  fields: (o) => ({ 'status.phase': str(at(o, 'status', 'phase')) }),
  prepareForCreate: (o) => {
    o['spec'] = { finalizers: ['kubernetes'] };
    o['status'] = { phase: 'Active' };
  },
  afterCreate: (ns, ctx) => ensureDefaultServiceAccount(ctx, ns.metadata.name),
  hasStatus: true,
};
