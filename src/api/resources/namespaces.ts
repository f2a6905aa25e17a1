/**
 * core/v1 Namespace, deleted as kube-apiserver deletes it: every namespace carries the finalizer `kubernetes` in
 * `spec.finalizers`; DELETE marks it Terminating; the namespace controller (src/controllers/) empties it and takes
 * its finalizer off through the `finalize` subresource; an update that leaves a terminating namespace with no
 * finalizer removes it.
 */
import { z } from 'zod';
import { isRecord, kubeTime, NAMESPACE_FINALIZER, namespaceFinalizers, type KubeObject } from '../../kube/index.js';
import { forbiddenError } from '../status.js';
import { ageColumn, at, checkObjectMeta, nameColumn, objectSchema, str, type ResourceDef } from './resource.js';
import { ensureDefaultServiceAccount } from './serviceaccounts.js';

/** Namespaces that exist from the start and may not be deleted. */
export const systemNamespaces = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

/** The label kube-apiserver puts on every namespace (NetworkPolicy namespaceSelectors select namespaces by name with it). */
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

function nameLabel(o: KubeObject): void {
  o.metadata.labels = { ...o.metadata.labels, [NAMESPACE_NAME_LABEL]: o.metadata.name ?? '' };
}

const specOf = (o: KubeObject): Record<string, unknown> => (isRecord(o['spec']) ? o['spec'] : {});

/** No finalizer left, in the spec or the metadata: nothing more has to happen before the namespace goes. */
const finalized = (o: KubeObject): boolean => namespaceFinalizers(o).length === 0 && (o.metadata.finalizers ?? []).length === 0;

export const namespaces: ResourceDef = {
  group: '', version: 'v1', kind: 'Namespace', plural: 'namespaces', singular: 'namespace', namespaced: false,
  shortNames: ['ns'], categories: [],
  subresources: [
    { name: 'status', kind: 'Namespace', verbs: ['get', 'patch', 'update'] },
    // Only spec.finalizers changes through finalize; a main update keeps them (kube's finalize strategy).
    {
      name: 'finalize', kind: 'Namespace', verbs: ['update'],
      merge: (current, input) => ({ ...current, spec: { ...specOf(current), finalizers: namespaceFinalizers(input) } }),
    },
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
    o['spec'] = { finalizers: [...new Set([...namespaceFinalizers(o), NAMESPACE_FINALIZER])] };
    o['status'] = { phase: 'Active' };
    nameLabel(o);
  },
  prepareForUpdate: (o, old) => {
    o['spec'] = { ...specOf(o), finalizers: namespaceFinalizers(old) };
    nameLabel(o);
  },
  afterCreate: (ns, ctx) => ensureDefaultServiceAccount(ctx, ns.metadata.name),
  // A deleted namespace is Terminating until its finalizers are gone (the namespace controller empties it first);
  // one without finalizers goes at once.
  prepareForDelete: (current, _options, now) => {
    const name = current.metadata.name ?? '';
    if (systemNamespaces.includes(name)) throw forbiddenError(namespaces, name, 'this namespace may not be deleted');
    if (finalized(current)) return undefined;
    const next = structuredClone(current);
    next.metadata.deletionTimestamp ??= kubeTime(now);
    next['status'] = { phase: 'Terminating' };
    return next;
  },
  removeWhenUpdated: (o) => o.metadata.deletionTimestamp !== undefined && o.metadata.deletionTimestamp !== null && finalized(o),
  hasStatus: true,
};
