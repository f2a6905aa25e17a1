/** Every resource the API server serves. */
import { configMaps } from './configmaps.js';
import { events } from './events.js';
import { leases } from './leases.js';
import { nodeMetrics, podMetrics } from './metrics.js';
import { namespaces } from './namespaces.js';
import { networkPolicies } from './networkpolicies.js';
import { nodes } from './nodes.js';
import { pods } from './pods.js';
import type { ResourceDef } from './resource.js';
import { selfSubjectAccessReviews, selfSubjectReviews } from './reviews.js';
import { runtimeClasses } from './runtimeclasses.js';
import { secrets } from './secrets.js';
import { serviceAccounts } from './serviceaccounts.js';

export const allResources: readonly ResourceDef[] = [
  pods, namespaces, nodes, events, configMaps, secrets, serviceAccounts, leases, runtimeClasses, networkPolicies,
  selfSubjectAccessReviews, selfSubjectReviews, nodeMetrics, podMetrics,
];

/** The resources kept in etcd: all but the computed ones. */
export const storedResources: readonly ResourceDef[] = allResources.filter((r) => !r.computed);

/** The resource served at group/version/plural, if any. */
export function findResource(group: string, version: string, plural: string): ResourceDef | undefined {
  return allResources.find((r) => r.group === group && r.version === version && r.plural === plural);
}

export type { ResourceDef } from './resource.js';
