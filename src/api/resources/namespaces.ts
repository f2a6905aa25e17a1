/** core/v1 Namespace. */
import { z } from 'zod';
import { kubeTime, type KubeObject } from '../../kube/index.js';
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
    nameLabel(o);
  },
  prepareForUpdate: nameLabel,
  afterCreate: (ns, ctx) => ensureDefaultServiceAccount(ctx, ns.metadata.name),
  // A deleted namespace is Terminating until the namespace controller (registry.finalizeNamespaces) has emptied it.
  prepareForDelete: (current, _options, now) => {
    const name = current.metadata.name ?? '';
    if (systemNamespaces.includes(name)) throw forbiddenError(namespaces, name, 'this namespace may not be deleted');
    const next = structuredClone(current);
    next.metadata.deletionTimestamp ??= kubeTime(now);
    next['status'] = { phase: 'Terminating' };
    return next;
  },
  hasStatus: true,
};
