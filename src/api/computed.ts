/**
 * Read-only resources computed on request rather than stored (metrics.k8s.io): the server sends get and list of
 * a `computed` ResourceDef to the ComputedResource registered for it, renders the answer like any other (JSON or
 * Table) and refuses every other verb with 405. Nothing of this touches etcd or the storage registry.
 */
import type { KubeObject } from '../kube/index.js';
import type { Scope, Selectors } from './registry.js';
import type { ResourceDef } from './resources/resource.js';

export interface ComputedList {
  apiVersion: string;
  kind: string;
  /** Computed lists have no resourceVersion: there is nothing to watch from. */
  metadata: Record<string, never>;
  items: KubeObject[];
}

export interface ComputedResource {
  readonly def: ResourceDef;
  /** The object named; throws a SandpodError (NotFound when it cannot be computed). */
  get(scope: Scope, name: string): Promise<KubeObject>;
  /** The objects matching the selectors, in `scope.namespace` or across all namespaces when it is unset. */
  list(scope: Scope, selectors: Selectors): Promise<ComputedList>;
}
