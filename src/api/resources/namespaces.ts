/** core/v1 Namespace. */
import { z } from 'zod';
import { checkDns1123Label, checkLabels, invalidValue, type FieldError } from '../../kube/index.js';
import { ageColumn, at, nameColumn, objectSchema, str, type ResourceDef } from './resource.js';

export const namespaces: ResourceDef = {
  group: '', version: 'v1', kind: 'Namespace', plural: 'namespaces', singular: 'namespace', namespaced: false,
  shortNames: ['ns'], categories: [],
  subresources: [
    { name: 'status', kind: 'Namespace', verbs: ['get', 'patch', 'update'] },
    { name: 'finalize', kind: 'Namespace', verbs: ['update'] },
  ],
  schema: objectSchema({ spec: z.strictObject({ finalizers: z.array(z.string()).optional() }).optional(), status: z.unknown().optional() }),
  validate: (o): FieldError[] => {
    const name = o.metadata.name ?? '';
    const bad = checkDns1123Label(name);
    return [...(bad ? [invalidValue('metadata.name', name, bad)] : []), ...checkLabels(o.metadata.labels, 'metadata.labels')];
  },
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
  hasStatus: true,
};
