/**
 * The review resources kubectl asks before acting or when asked who it is (`kubectl auth can-i`, `kubectl auth
 * whoami`). Sandpod has one kind of user, the cluster administrator, so every access review is allowed.
 */
import { z } from 'zod';
import type { KubeObject } from '../../kube/index.js';
import { nameColumn, objectSchema, type ResourceDef } from './resource.js';

export const adminUser = {
  username: 'sandpod-admin',
  groups: ['system:masters', 'system:authenticated'],
};

const attributes = z.looseObject({}).optional();

export const selfSubjectAccessReviews: ResourceDef = {
  group: 'authorization.k8s.io', version: 'v1', kind: 'SelfSubjectAccessReview', plural: 'selfsubjectaccessreviews', singular: '',
  namespaced: false, shortNames: [], categories: [], subresources: [],
  schema: objectSchema({
    spec: z.strictObject({ resourceAttributes: attributes, nonResourceAttributes: attributes }).optional(),
    status: z.unknown().optional(),
  }),
  validate: () => [],
  columns: [nameColumn],
  review: (o: KubeObject): KubeObject => ({
    ...o,
    status: { allowed: true, reason: 'Sandpod clients authenticate as the cluster administrator (group system:masters)' },
  }),
  hasStatus: false,
};

export const selfSubjectReviews: ResourceDef = {
  group: 'authentication.k8s.io', version: 'v1', kind: 'SelfSubjectReview', plural: 'selfsubjectreviews', singular: '',
  namespaced: false, shortNames: [], categories: [], subresources: [],
  schema: objectSchema({ status: z.unknown().optional() }),
  validate: () => [],
  columns: [nameColumn],
  review: (o: KubeObject): KubeObject => ({ ...o, status: { userInfo: adminUser } }),
  hasStatus: false,
};
