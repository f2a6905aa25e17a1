/** coordination.k8s.io/v1 Lease: node heartbeats live in kube-node-lease. */
import { z } from 'zod';
import { ageColumn, at, checkObjectMeta, nameColumn, objectSchema, str, type ResourceDef } from './resource.js';

export const leases: ResourceDef = {
  group: 'coordination.k8s.io', version: 'v1', kind: 'Lease', plural: 'leases', singular: 'lease', namespaced: true,
  shortNames: [], categories: [], subresources: [],
  schema: objectSchema({
    spec: z.strictObject({
      holderIdentity: z.string().nullable().optional(), leaseDurationSeconds: z.number().int().nullable().optional(),
      acquireTime: z.string().nullable().optional(), renewTime: z.string().nullable().optional(),
      leaseTransitions: z.number().int().nullable().optional(), strategy: z.string().optional(), preferredHolder: z.string().optional(),
    }).optional(),
  }),
  validate: (o) => checkObjectMeta(o),
  columns: [
    nameColumn,
    { name: 'Holder', type: 'string', priority: 0, description: 'The holder of the lease', cell: (o) => str(at(o, 'spec', 'holderIdentity')) },
    ageColumn,
  ],
  hasStatus: false,
};
