/** core/v1 Pod: schema of the fields Sandpod knows, validation with field paths, kube-apiserver's columns. */
import { z } from 'zod';
import {
  checkDns1123Label, checkLabels, duplicate, forbidden, invalidValue, isRecord, notSupported, quantityValue, required,
  type FieldError, type KubeObject,
} from '../../kube/index.js';
import { ageColumn, at, checkObjectMeta, nameColumn, objectSchema, selectable, str, type ResourceDef } from './resource.js';

const opaque = z.unknown().optional();
const resourceMap = z.record(z.string(), z.union([z.string(), z.number()]));

const containerSchema = z.strictObject({
  name: z.string().optional(),
  image: z.string().optional(),
  command: z.array(z.string()).optional(),
  args: z.array(z.string()).optional(),
  workingDir: z.string().optional(),
  ports: z.array(z.strictObject({
    name: z.string().optional(),
    hostPort: z.number().int().optional(),
    containerPort: z.number().int().optional(),
    protocol: z.string().optional(),
    hostIP: z.string().optional(),
  })).optional(),
  envFrom: opaque, env: opaque,
  resources: z.strictObject({ limits: resourceMap.optional(), requests: resourceMap.optional(), claims: opaque }).optional(),
  resizePolicy: opaque, restartPolicy: z.string().optional(),
  volumeMounts: opaque, volumeDevices: opaque,
  livenessProbe: opaque, readinessProbe: opaque, startupProbe: opaque, lifecycle: opaque,
  terminationMessagePath: z.string().optional(), terminationMessagePolicy: z.string().optional(),
  imagePullPolicy: z.string().optional(),
  securityContext: z.looseObject({ privileged: z.boolean().optional() }).optional(),
  stdin: z.boolean().optional(), stdinOnce: z.boolean().optional(), tty: z.boolean().optional(),
});

const tolerationSchema = z.strictObject({
  key: z.string().optional(), operator: z.string().optional(), value: z.string().optional(),
  effect: z.string().optional(), tolerationSeconds: z.number().int().nullable().optional(),
});

const podSpecSchema = z.strictObject({
  volumes: z.array(z.looseObject({ name: z.string().optional(), hostPath: opaque })).optional(),
  initContainers: z.array(containerSchema).optional(),
  containers: z.array(containerSchema).optional(),
  ephemeralContainers: opaque,
  restartPolicy: z.string().optional(),
  terminationGracePeriodSeconds: z.number().int().nullable().optional(),
  activeDeadlineSeconds: z.number().int().nullable().optional(),
  dnsPolicy: z.string().optional(),
  nodeSelector: z.record(z.string(), z.string()).nullable().optional(),
  serviceAccountName: z.string().optional(), serviceAccount: z.string().optional(),
  automountServiceAccountToken: z.boolean().nullable().optional(),
  nodeName: z.string().optional(),
  hostNetwork: z.boolean().optional(), hostPID: z.boolean().optional(), hostIPC: z.boolean().optional(),
  shareProcessNamespace: z.boolean().nullable().optional(),
  securityContext: opaque, imagePullSecrets: opaque,
  hostname: z.string().optional(), subdomain: z.string().optional(),
  affinity: opaque, schedulerName: z.string().optional(),
  tolerations: z.array(tolerationSchema).nullable().optional(),
  hostAliases: opaque, priorityClassName: z.string().optional(), priority: z.number().int().nullable().optional(),
  dnsConfig: opaque, readinessGates: opaque, runtimeClassName: z.string().nullable().optional(),
  enableServiceLinks: z.boolean().nullable().optional(), preemptionPolicy: z.string().nullable().optional(),
  overhead: resourceMap.nullable().optional(), topologySpreadConstraints: opaque,
  setHostnameAsFQDN: z.boolean().nullable().optional(), os: opaque, hostUsers: z.boolean().nullable().optional(),
  schedulingGates: opaque, resourceClaims: opaque, resources: opaque,
});

type Container = z.infer<typeof containerSchema>;

export const restartPolicies = ['Always', 'OnFailure', 'Never'] as const;
const protocols = ['TCP', 'UDP', 'SCTP'];
const tolerationOperators = ['Exists', 'Equal'];
const taintEffects = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'];

/** Checks a map of resource quantities (requests, limits, overhead). */
export function checkResourceList(v: unknown, field: string): FieldError[] {
  if (!isRecord(v)) return [];
  const errs: FieldError[] = [];
  for (const [name, q] of Object.entries(v)) {
    const n = quantityValue(q);
    if (n === undefined) errs.push(invalidValue(`${field}[${name}]`, q, "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"));
    else if (n < 0) errs.push(invalidValue(`${field}[${name}]`, q, 'must be greater than or equal to 0'));
  }
  return errs;
}

function checkContainer(c: Container, field: string, seen: Set<string>): FieldError[] {
  const errs: FieldError[] = [];
  if (!c.name) errs.push(required(`${field}.name`));
  else {
    const bad = checkDns1123Label(c.name);
    if (bad) errs.push(invalidValue(`${field}.name`, c.name, bad));
    if (seen.has(c.name)) errs.push(duplicate(`${field}.name`, c.name));
    seen.add(c.name);
  }
  if (!c.image || c.image.trim() === '') errs.push(required(`${field}.image`));
  const portNames = new Set<string>();
  (c.ports ?? []).forEach((p, i) => {
    const pf = `${field}.ports[${i}]`;
    if (p.containerPort === undefined) errs.push(required(`${pf}.containerPort`));
    else if (p.containerPort < 1 || p.containerPort > 65535) errs.push(invalidValue(`${pf}.containerPort`, p.containerPort, 'must be between 1 and 65535, inclusive'));
    if (p.hostPort !== undefined && (p.hostPort < 0 || p.hostPort > 65535)) errs.push(invalidValue(`${pf}.hostPort`, p.hostPort, 'must be between 1 and 65535, inclusive'));
    if (p.protocol !== undefined && !protocols.includes(p.protocol)) errs.push(notSupported(`${pf}.protocol`, p.protocol, protocols));
    if (p.name !== undefined) {
      if (portNames.has(p.name)) errs.push(duplicate(`${pf}.name`, p.name));
      portNames.add(p.name);
    }
  });
  errs.push(...checkResourceList(c.resources?.requests, `${field}.resources.requests`));
  errs.push(...checkResourceList(c.resources?.limits, `${field}.resources.limits`));
  for (const [name, req] of Object.entries(c.resources?.requests ?? {})) {
    const lim = c.resources?.limits?.[name];
    const r = quantityValue(req);
    const l = lim === undefined ? undefined : quantityValue(lim);
    if (r !== undefined && l !== undefined && r > l) errs.push(invalidValue(`${field}.resources.requests`, String(req), `must be less than or equal to ${name} limit of ${String(lim)}`));
  }
  return errs;
}

export function validatePod(obj: KubeObject, old?: KubeObject): FieldError[] {
  const errs = checkObjectMeta(obj);
  const spec: Partial<z.infer<typeof podSpecSchema>> = podSpecSchema.safeParse(obj['spec'] ?? {}).data ?? {};
  const seen = new Set<string>();
  if (!spec.containers || spec.containers.length === 0) errs.push(required('spec.containers'));
  (spec.initContainers ?? []).forEach((c, i) => errs.push(...checkContainer(c, `spec.initContainers[${i}]`, seen)));
  (spec.containers ?? []).forEach((c, i) => errs.push(...checkContainer(c, `spec.containers[${i}]`, seen)));
  if (spec.restartPolicy !== undefined && !(restartPolicies as readonly string[]).includes(spec.restartPolicy)) {
    errs.push(notSupported('spec.restartPolicy', spec.restartPolicy, restartPolicies));
  }
  errs.push(...checkResourceList(spec.overhead, 'spec.overhead'));
  errs.push(...checkLabels(spec.nodeSelector ?? undefined, 'spec.nodeSelector'));
  (spec.tolerations ?? []).forEach((t, i) => {
    if (t.operator !== undefined && !tolerationOperators.includes(t.operator)) errs.push(notSupported(`spec.tolerations[${i}].operator`, t.operator, tolerationOperators));
    if (t.effect !== undefined && t.effect !== '' && !taintEffects.includes(t.effect)) errs.push(notSupported(`spec.tolerations[${i}].effect`, t.effect, taintEffects));
    if (t.operator === 'Exists' && t.value) errs.push(invalidValue(`spec.tolerations[${i}].operator`, t.value, 'value must be empty when `operator` is \'Exists\''));
  });
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

/** kube's QoS class: Guaranteed when every container limits CPU and memory with equal requests, BestEffort when none asks for anything. */
export function qosClass(spec: Record<string, unknown>): 'Guaranteed' | 'Burstable' | 'BestEffort' {
  const all = [...((spec['initContainers'] ?? []) as Container[]), ...((spec['containers'] ?? []) as Container[])];
  const lists = all.map((c) => ({ requests: { ...c.resources?.limits, ...c.resources?.requests }, limits: c.resources?.limits ?? {} }));
  if (lists.every((l) => Object.keys(l.requests).length === 0 && Object.keys(l.limits).length === 0)) return 'BestEffort';
  const guaranteed = lists.every((l) => ['cpu', 'memory'].every((r) => {
    const limit = l.limits[r];
    const request = l.requests[r];
    return limit !== undefined && request !== undefined && quantityValue(limit) === quantityValue(request);
  }));
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

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

export const pods: ResourceDef = {
  group: '', version: 'v1', kind: 'Pod', plural: 'pods', singular: 'pod', namespaced: true,
  shortNames: ['po'], categories: ['all'],
  subresources: [
    { name: 'status', kind: 'Pod', verbs: ['get', 'patch', 'update'] },
    { name: 'binding', kind: 'Binding', verbs: ['create'] },
    { name: 'log', kind: 'Pod', verbs: ['get'] },
    { name: 'exec', kind: 'PodExecOptions', verbs: ['create', 'get'] },
    { name: 'attach', kind: 'PodAttachOptions', verbs: ['create', 'get'] },
  ],
  schema: objectSchema({ spec: podSpecSchema.optional(), status: opaque }),
  validate: validatePod,
  columns: podColumns,
  fields: (o) => selectable(o, ['spec.nodeName', 'status.phase', 'spec.restartPolicy', 'spec.schedulerName', 'status.podIP']),
  prepareForCreate: (o) => {
    const spec = (o['spec'] ?? {}) as Record<string, unknown>;
    spec['restartPolicy'] ??= 'Always';
    spec['terminationGracePeriodSeconds'] ??= 30;
    spec['dnsPolicy'] ??= 'ClusterFirst';
    spec['schedulerName'] ??= 'default-scheduler';
    for (const c of (spec['containers'] ?? []) as Array<Record<string, unknown>>) {
      c['imagePullPolicy'] ??= typeof c['image'] === 'string' && (c['image'].endsWith(':latest') || !c['image'].includes(':')) ? 'Always' : 'IfNotPresent';
      c['terminationMessagePath'] ??= '/dev/termination-log';
      c['terminationMessagePolicy'] ??= 'File';
      c['resources'] ??= {};
      for (const p of Array.isArray(c['ports']) ? (c['ports'] as Array<Record<string, unknown>>) : []) p['protocol'] ??= 'TCP';
    }
    o['spec'] = spec;
    o['status'] = { phase: 'Pending', qosClass: qosClass(spec) };
  },
  hasStatus: true,
};
