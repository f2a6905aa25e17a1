/** node.k8s.io/v1 RuntimeClass: `handler` is top level; overhead and scheduling feed pod admission. */
import { z } from 'zod';
import { checkDns1123Label, invalidValue, required, type FieldError } from '../../kube/index.js';
import { checkResourceList } from './pods.js';
import { ageColumn, at, checkObjectMeta, nameColumn, objectSchema, str, type ResourceDef } from './resource.js';

export const runtimeClasses: ResourceDef = {
  group: 'node.k8s.io', version: 'v1', kind: 'RuntimeClass', plural: 'runtimeclasses', singular: 'runtimeclass', namespaced: false,
  shortNames: [], categories: [], subresources: [],
  schema: objectSchema({
    handler: z.string().optional(),
    overhead: z.strictObject({ podFixed: z.record(z.string(), z.union([z.string(), z.number()])).optional() }).nullable().optional(),
    scheduling: z.strictObject({
      nodeSelector: z.record(z.string(), z.string()).optional(),
      tolerations: z.array(z.unknown()).optional(),
    }).nullable().optional(),
  }),
  validate: (o, old): FieldError[] => {
    const errs = checkObjectMeta(o);
    const handler = at(o, 'handler');
    if (old && handler !== at(old, 'handler')) errs.push(invalidValue('handler', handler, 'field is immutable'));
    if (typeof handler !== 'string' || handler === '') errs.push(required('handler'));
    else {
      const bad = checkDns1123Label(handler);
      if (bad) errs.push(invalidValue('handler', handler, bad));
    }
    errs.push(...checkResourceList(at(o, 'overhead', 'podFixed'), 'overhead.podFixed'));
    return errs;
  },
  columns: [
    nameColumn,
    { name: 'Handler', type: 'string', priority: 0, description: 'Handler specifies the underlying runtime and configuration that the CRI implementation will use to handle pods of this class.', cell: (o) => str(at(o, 'handler')) },
    ageColumn,
  ],
  hasStatus: false,
};
