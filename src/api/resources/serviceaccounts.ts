/**
 * core/v1 ServiceAccount: stored and served. Like kube's serviceaccount controller, every active namespace has one
 * named `default`: it is made with the namespace (namespaces.ts) and made again when deleted. Tokens are not
 * issued: every authenticated client of this API server is the administrator.
 */
import { z } from 'zod';
import type { KubeObject } from '../../kube/index.js';
import { ageColumn, checkObjectMeta, nameColumn, objectSchema, type HookContext, type ResourceDef } from './resource.js';

const objectReference = z.strictObject({
  kind: z.string().optional(), namespace: z.string().optional(), name: z.string().optional(), uid: z.string().optional(),
  apiVersion: z.string().optional(), resourceVersion: z.string().optional(), fieldPath: z.string().optional(),
});

/** Creates the namespace's `default` ServiceAccount if it is missing (and the namespace is active). */
export function ensureDefaultServiceAccount(ctx: HookContext, namespace: string | undefined): Promise<void> {
  return ctx.ensure(serviceAccounts, [{ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default' } }], namespace);
}

export const serviceAccounts: ResourceDef = {
  group: '', version: 'v1', kind: 'ServiceAccount', plural: 'serviceaccounts', singular: 'serviceaccount', namespaced: true,
  shortNames: ['sa'], categories: [], subresources: [],
  schema: objectSchema({
    secrets: z.array(objectReference).nullable().optional(),
    imagePullSecrets: z.array(z.strictObject({ name: z.string().optional() })).nullable().optional(),
    automountServiceAccountToken: z.boolean().nullable().optional(),
  }),
  validate: (o) => checkObjectMeta(o),
  columns: [
    nameColumn,
    {
      name: 'Secrets', type: 'string', priority: 0,
      description: 'Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.',
      cell: (o: KubeObject) => (Array.isArray(o['secrets']) ? o['secrets'].length : 0),
    },
    ageColumn,
  ],
  afterDelete: async (sa, ctx) => {
    if (sa.metadata.name === 'default') await ensureDefaultServiceAccount(ctx, sa.metadata.namespace);
  },
  hasStatus: false,
};
