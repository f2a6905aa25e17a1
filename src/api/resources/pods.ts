/** core/v1 Pod: the shared schema (src/kube/pod.ts), kube's validation and defaults, kube-apiserver's columns. */
import { z } from 'zod';
import {
  defaultPodSpec, forbidden, isRecord, kubeTime, parsePodSpec, podSpecSchema, qosClass, ValidationError, type FieldError, type KubeObject, type PodSpec,
} from '../../kube/index.js';
import { admitPod } from '../admission.js';
import { conflictError, forbiddenError } from '../status.js';
import { validatePodSpec } from './pod-validation.js';
import { ageColumn, at, checkObjectMeta, nameColumn, objectSchema, selectable, str, type DeleteOptions, type HookContext, type ResourceDef } from './resource.js';
import { runtimeClasses } from './runtimeclasses.js';
import { serviceAccounts } from './serviceaccounts.js';

export { checkResourceList, restartPolicies } from './pod-validation.js';

/** The spec as the shared schema reads it; a spec that does not decode was already refused with a 400. */
const specOf = (obj: KubeObject): PodSpec => {
  try {
    return parsePodSpec(obj);
  } catch {
    return { containers: [] };
  }
};

export function validatePod(obj: KubeObject, old?: KubeObject): FieldError[] {
  const errs = [...checkObjectMeta(obj), ...validatePodSpec(specOf(obj))];
  if (old) errs.push(...checkPodUpdate(obj, old));
  return errs;
}

/** kube allows only images, tolerations additions and activeDeadlineSeconds to change in a running pod's spec. */
function checkPodUpdate(obj: KubeObject, old: KubeObject): FieldError[] {
  const mutable = (o: KubeObject): unknown => {
    const spec = structuredClone((o['spec'] ?? {}) as Record<string, unknown>);
    for (const list of ['containers', 'initContainers']) {
      const cs = spec[list];
      if (Array.isArray(cs)) for (const c of cs) if (isRecord(c)) delete c['image'];
    }
    delete spec['activeDeadlineSeconds'];
    delete spec['tolerations'];
    delete spec['schedulingGates'];
    return spec;
  };
  if (JSON.stringify(mutable(obj)) === JSON.stringify(mutable(old))) return [];
  return [forbidden('spec', 'pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)')];
}

export { qosClass };

interface ContainerStatus {
  name?: string;
  ready?: boolean;
  restartCount?: number;
  state?: { waiting?: { reason?: string }; terminated?: { reason?: string; exitCode?: number; signal?: number } };
}

/** The STATUS cell: kube-apiserver's printer logic, shortened. */
export function podStatusText(pod: KubeObject): string {
  let reason = str(at(pod, 'status', 'reason')) || str(at(pod, 'status', 'phase'), 'Pending');
  const statuses = (at(pod, 'status', 'containerStatuses') ?? []) as ContainerStatus[];
  for (const cs of statuses) {
    const w = cs.state?.waiting?.reason;
    const t = cs.state?.terminated;
    if (w) reason = w;
    else if (t) reason = t.reason ?? (t.signal ? `Signal:${t.signal}` : `ExitCode:${t.exitCode ?? 0}`);
  }
  if (pod.metadata.deletionTimestamp) reason = 'Terminating';
  return reason;
}

const podColumns: ResourceDef['columns'] = [
  nameColumn,
  {
    name: 'Ready', type: 'string', priority: 0, description: 'The aggregate readiness state of this pod for accepting traffic.',
    cell: (o) => {
      const total = ((at(o, 'spec', 'containers') ?? []) as unknown[]).length;
      const ready = ((at(o, 'status', 'containerStatuses') ?? []) as ContainerStatus[]).filter((c) => c.ready).length;
      return `${ready}/${total}`;
    },
  },
  { name: 'Status', type: 'string', priority: 0, description: 'The aggregate status of the containers in this pod.', cell: podStatusText },
  {
    name: 'Restarts', type: 'string', priority: 0, description: 'The number of times the containers in this pod have been restarted.',
    cell: (o) => String(((at(o, 'status', 'containerStatuses') ?? []) as ContainerStatus[]).reduce((n, c) => n + (c.restartCount ?? 0), 0)),
  },
  ageColumn,
  { name: 'IP', type: 'string', priority: 1, description: 'IP address allocated to the pod.', cell: (o) => str(at(o, 'status', 'podIP'), '<none>') },
  { name: 'Node', type: 'string', priority: 1, description: 'Name of the Node the Pod is assigned to.', cell: (o) => str(at(o, 'spec', 'nodeName'), '<none>') },
  { name: 'Nominated Node', type: 'string', priority: 1, description: 'Name of the Node the Pod is nominated to.', cell: (o) => str(at(o, 'status', 'nominatedNodeName'), '<none>') },
  {
    name: 'Readiness Gates', type: 'string', priority: 1, description: 'Readiness gates of the pod.',
    cell: (o) => { const g = at(o, 'spec', 'readinessGates'); return Array.isArray(g) && g.length > 0 ? `0/${g.length}` : '<none>'; },
  },
];

/** Admission: the RuntimeClass and ServiceAccount rules of admission.ts, with what they look up in the cluster. */
async function admit(pod: KubeObject, ctx: HookContext): Promise<string[]> {
  const admitted = await admitPod(pod, {
    runtimeClass: (n) => ctx.find(runtimeClasses, n),
    runtimeClassNames: async () => (await ctx.listAll(runtimeClasses)).map((r) => r.metadata.name ?? ''),
    serviceAccountExists: async (ns, n) => (await ctx.find(serviceAccounts, n, ns)) !== undefined,
  });
  const name = pod.metadata.name ?? '';
  if (admitted.forbidden) throw forbiddenError(pods, name, admitted.forbidden);
  if (admitted.errors.length > 0) throw new ValidationError('Pod', name, admitted.errors);
  return admitted.warnings;
}

/**
 * Graceful deletion: a pod bound to a node is marked (deletionTimestamp, grace period) for its node agent to stop
 * and then remove; a pod never scheduled, finished, or deleted with grace 0 goes at once. A second delete may only
 * shorten the grace period.
 */
function prepareForDelete(current: KubeObject, options: DeleteOptions, now: Date): KubeObject | undefined {
  const spec = isRecord(current['spec']) ? current['spec'] : {};
  const phase = isRecord(current['status']) ? current['status']['phase'] : undefined;
  const specGrace = typeof spec['terminationGracePeriodSeconds'] === 'number' ? spec['terminationGracePeriodSeconds'] : 30;
  const grace = options.gracePeriodSeconds ?? specGrace;
  if (!spec['nodeName'] || grace <= 0 || phase === 'Succeeded' || phase === 'Failed') return undefined;
  const next = structuredClone(current);
  const existing = current.metadata.deletionGracePeriodSeconds;
  if (typeof existing === 'number' && existing <= grace) return next;
  next.metadata.deletionTimestamp = kubeTime(new Date(now.getTime() + grace * 1000));
  next.metadata.deletionGracePeriodSeconds = grace;
  return next;
}

/**
 * pods/binding: the pod with its node and the PodScheduled condition, written as one object (one etcd
 * transaction), so no one ever sees a pod on a node that is not marked scheduled.
 */
export function bindPod(pod: KubeObject, nodeName: string, now: Date): KubeObject {
  const name = pod.metadata.name ?? '';
  const spec = (isRecord(pod['spec']) ? pod['spec'] : {}) as Record<string, unknown>;
  if (spec['nodeName']) throw conflictError(pods, name, `pod ${name} is already assigned to node "${String(spec['nodeName'])}"`);
  if (pod.metadata.deletionTimestamp) throw conflictError(pods, name, 'pod is being deleted, cannot be assigned to a host');
  const status = (isRecord(pod['status']) ? pod['status'] : {}) as Record<string, unknown>;
  const conditions = (Array.isArray(status['conditions']) ? status['conditions'] : []).filter((c) => !(isRecord(c) && c['type'] === 'PodScheduled'));
  conditions.push({ type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: kubeTime(now) });
  return { ...pod, spec: { ...spec, nodeName }, status: { ...status, conditions } };
}

export const pods: ResourceDef = {
  group: '', version: 'v1', kind: 'Pod', plural: 'pods', singular: 'pod', namespaced: true,
  shortNames: ['po'], categories: ['all'],
  subresources: [
    { name: 'status', kind: 'Pod', verbs: ['get', 'patch', 'update'] },
    { name: 'binding', kind: 'Binding', verbs: ['create'] },
    { name: 'log', kind: 'Pod', verbs: ['get'] },
    { name: 'exec', kind: 'PodExecOptions', verbs: ['create', 'get'] },
    { name: 'attach', kind: 'PodAttachOptions', verbs: ['create', 'get'] },
    { name: 'portforward', kind: 'PodPortForwardOptions', verbs: ['create', 'get'] },
  ],
  schema: objectSchema({ spec: podSpecSchema.optional(), status: z.unknown().optional() }),
  validate: validatePod,
  columns: podColumns,
  fields: (o) => selectable(o, ['spec.nodeName', 'status.phase', 'spec.restartPolicy', 'spec.schedulerName', 'status.podIP']),
  prepareForCreate: (o) => {
    const spec = defaultPodSpec(specOf(o));
    o['spec'] = spec;
    o['status'] = { phase: 'Pending', qosClass: qosClass(spec) };
  },
  admit,
  prepareForDelete,
  hasStatus: true,
};
