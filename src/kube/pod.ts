/**
 * The core/v1 Pod spec: one schema, read by every component that reads a pod (the API server decodes and
 * validates with it, the scheduler and the node agent parse with it), and the defaults kube-apiserver applies.
 * Every field Kubernetes 1.33 knows is listed, so a manifest with a field Sandpod does not implement still
 * decodes and admission can name the field and say why it is refused, instead of "unknown field".
 */
import { z } from 'zod';
import { invalid } from '../errors.js';
import { isRecord, type KubeObject } from './object.js';
import { quantityValue } from './quantity.js';

/** A Kubernetes field we accept for decoding but do not model (admission decides about it). */
const opaque = z.unknown().optional();
const quantity = z.union([z.string(), z.number()]);
export const resourceListSchema = z.record(z.string(), quantity);
/** A port by number or by the name of a container port (IntOrString). */
const intOrString = z.union([z.number().int(), z.string()]);
const stringMap = z.record(z.string(), z.string());
/**
 * A string validation requires: decoding lets it be missing (it becomes ''), so validation can say "Required
 * value" with the field's path, as kube-apiserver does, rather than failing the decoding.
 */
const requiredString = (): z.ZodDefault<z.ZodString> => z.string().default('');

const localObjectReference = z.strictObject({ name: z.string().optional() });

export const objectFieldSelectorSchema = z.strictObject({ apiVersion: z.string().optional(), fieldPath: requiredString() });
export const resourceFieldSelectorSchema = z.strictObject({ containerName: z.string().optional(), resource: requiredString(), divisor: quantity.optional() });
const keySelector = z.strictObject({ name: z.string().optional(), key: requiredString(), optional: z.boolean().optional() });

export const envVarSchema = z.strictObject({
  name: requiredString(),
  value: z.string().optional(),
  valueFrom: z.strictObject({
    fieldRef: objectFieldSelectorSchema.optional(),
    resourceFieldRef: resourceFieldSelectorSchema.optional(),
    configMapKeyRef: keySelector.optional(),
    secretKeyRef: keySelector.optional(),
    fileKeyRef: opaque,
  }).optional(),
});
export type EnvVar = z.infer<typeof envVarSchema>;

const sourceRef = z.strictObject({ name: z.string().optional(), optional: z.boolean().optional() });
export const envFromSchema = z.strictObject({ prefix: z.string().optional(), configMapRef: sourceRef.optional(), secretRef: sourceRef.optional() });
export type EnvFromSource = z.infer<typeof envFromSchema>;

const httpGetSchema = z.strictObject({
  path: z.string().optional(),
  port: intOrString,
  host: z.string().optional(),
  scheme: z.string().optional(),
  httpHeaders: z.array(z.strictObject({ name: z.string(), value: z.string() })).optional(),
});
export type HttpGetAction = z.infer<typeof httpGetSchema>;
const execSchema = z.strictObject({ command: z.array(z.string()).optional() });
const tcpSocketSchema = z.strictObject({ port: intOrString, host: z.string().optional() });

export const probeSchema = z.strictObject({
  exec: execSchema.optional(),
  httpGet: httpGetSchema.optional(),
  tcpSocket: tcpSocketSchema.optional(),
  grpc: z.strictObject({ port: z.number().int(), service: z.string().optional() }).optional(),
  initialDelaySeconds: z.number().int().optional(),
  timeoutSeconds: z.number().int().optional(),
  periodSeconds: z.number().int().optional(),
  successThreshold: z.number().int().optional(),
  failureThreshold: z.number().int().optional(),
  terminationGracePeriodSeconds: z.number().int().optional(),
});
export type Probe = z.infer<typeof probeSchema>;

export const lifecycleHandlerSchema = z.strictObject({
  exec: execSchema.optional(),
  httpGet: httpGetSchema.optional(),
  tcpSocket: tcpSocketSchema.optional(),
  sleep: z.strictObject({ seconds: z.number().int() }).optional(),
});
export type LifecycleHandler = z.infer<typeof lifecycleHandlerSchema>;

const seccompProfile = z.strictObject({ type: z.string(), localhostProfile: z.string().optional() });

export const containerSecurityContextSchema = z.strictObject({
  capabilities: z.strictObject({ add: z.array(z.string()).optional(), drop: z.array(z.string()).optional() }).optional(),
  privileged: z.boolean().optional(),
  seLinuxOptions: opaque,
  windowsOptions: opaque,
  runAsUser: z.number().int().optional(),
  runAsGroup: z.number().int().optional(),
  runAsNonRoot: z.boolean().optional(),
  readOnlyRootFilesystem: z.boolean().optional(),
  allowPrivilegeEscalation: z.boolean().optional(),
  procMount: z.string().optional(),
  seccompProfile: seccompProfile.optional(),
  appArmorProfile: seccompProfile.optional(),
});
export type ContainerSecurityContext = z.infer<typeof containerSecurityContextSchema>;

export const volumeMountSchema = z.strictObject({
  name: requiredString(),
  readOnly: z.boolean().optional(),
  recursiveReadOnly: z.string().optional(),
  mountPath: requiredString(),
  subPath: z.string().optional(),
  mountPropagation: z.string().optional(),
  subPathExpr: z.string().optional(),
});
export type VolumeMount = z.infer<typeof volumeMountSchema>;

export const containerPortSchema = z.strictObject({
  name: z.string().optional(),
  hostPort: z.number().int().optional(),
  containerPort: z.number().int().default(0),
  protocol: z.string().optional(),
  hostIP: z.string().optional(),
});

export const containerSchema = z.strictObject({
  name: requiredString(),
  image: z.string().optional(),
  command: z.array(z.string()).optional(),
  args: z.array(z.string()).optional(),
  workingDir: z.string().optional(),
  ports: z.array(containerPortSchema).optional(),
  envFrom: z.array(envFromSchema).optional(),
  env: z.array(envVarSchema).optional(),
  resources: z.strictObject({ limits: resourceListSchema.optional(), requests: resourceListSchema.optional(), claims: opaque }).optional(),
  resizePolicy: opaque,
  /** `Always` on an init container makes it a sidecar. */
  restartPolicy: z.string().optional(),
  volumeMounts: z.array(volumeMountSchema).optional(),
  volumeDevices: opaque,
  livenessProbe: probeSchema.optional(),
  readinessProbe: probeSchema.optional(),
  startupProbe: probeSchema.optional(),
  lifecycle: z.strictObject({ postStart: lifecycleHandlerSchema.optional(), preStop: lifecycleHandlerSchema.optional(), stopSignal: z.string().optional() }).optional(),
  terminationMessagePath: z.string().optional(),
  terminationMessagePolicy: z.string().optional(),
  imagePullPolicy: z.string().optional(),
  securityContext: containerSecurityContextSchema.optional(),
  stdin: z.boolean().optional(),
  stdinOnce: z.boolean().optional(),
  tty: z.boolean().optional(),
});
export type Container = z.infer<typeof containerSchema>;

const keyToPath = z.strictObject({ key: requiredString(), path: requiredString(), mode: z.number().int().optional() });
export type KeyToPath = z.infer<typeof keyToPath>;
const configMapVolume = z.strictObject({ name: z.string().optional(), items: z.array(keyToPath).optional(), defaultMode: z.number().int().optional(), optional: z.boolean().optional() });
const secretVolume = z.strictObject({ secretName: z.string().optional(), items: z.array(keyToPath).optional(), defaultMode: z.number().int().optional(), optional: z.boolean().optional() });
const downwardItem = z.strictObject({ path: requiredString(), fieldRef: objectFieldSelectorSchema.optional(), resourceFieldRef: resourceFieldSelectorSchema.optional(), mode: z.number().int().optional() });
export type DownwardApiItem = z.infer<typeof downwardItem>;
const downwardVolume = z.strictObject({ items: z.array(downwardItem).optional(), defaultMode: z.number().int().optional() });

/** The volume sources Sandpod's nodes provide. */
export const supportedVolumeSources = ['emptyDir', 'configMap', 'secret', 'downwardAPI', 'projected', 'hostPath'] as const;
/** The volume sources Kubernetes knows and Sandpod does not provide (admission refuses them by name). */
export const unsupportedVolumeSources = [
  'gcePersistentDisk', 'awsElasticBlockStore', 'gitRepo', 'nfs', 'iscsi', 'glusterfs', 'persistentVolumeClaim', 'rbd',
  'flexVolume', 'cinder', 'cephfs', 'flocker', 'fc', 'azureFile', 'vsphereVolume', 'quobyte', 'azureDisk',
  'photonPersistentDisk', 'portworxVolume', 'scaleIO', 'storageos', 'csi', 'ephemeral', 'image',
] as const;

const unsupportedSourceShape = Object.fromEntries(unsupportedVolumeSources.map((s) => [s, opaque])) as Record<(typeof unsupportedVolumeSources)[number], typeof opaque>;

export const volumeSchema = z.strictObject({
  name: requiredString(),
  hostPath: z.strictObject({ path: requiredString(), type: z.string().optional() }).optional(),
  emptyDir: z.strictObject({ medium: z.string().optional(), sizeLimit: quantity.optional() }).optional(),
  configMap: configMapVolume.optional(),
  secret: secretVolume.optional(),
  downwardAPI: downwardVolume.optional(),
  projected: z.strictObject({
    sources: z.array(z.strictObject({
      configMap: configMapVolume.omit({ defaultMode: true }).optional(),
      secret: z.strictObject({ name: z.string().optional(), items: z.array(keyToPath).optional(), optional: z.boolean().optional() }).optional(),
      downwardAPI: z.strictObject({ items: z.array(downwardItem).optional() }).optional(),
      serviceAccountToken: opaque,
      clusterTrustBundle: opaque,
      podCertificate: opaque,
    })).optional(),
    defaultMode: z.number().int().optional(),
  }).optional(),
  ...unsupportedSourceShape,
});
export type Volume = z.infer<typeof volumeSchema>;
export type ProjectedSource = NonNullable<NonNullable<Volume['projected']>['sources']>[number];

export const tolerationSchema = z.strictObject({
  key: z.string().optional(), operator: z.string().optional(), value: z.string().optional(),
  effect: z.string().optional(), tolerationSeconds: z.number().int().optional(),
});
export type Toleration = z.infer<typeof tolerationSchema>;

const nodeSelectorRequirement = z.strictObject({ key: z.string(), operator: z.string(), values: z.array(z.string()).optional() });
const nodeSelectorTerm = z.strictObject({ matchExpressions: z.array(nodeSelectorRequirement).optional(), matchFields: z.array(nodeSelectorRequirement).optional() });

export const podSecurityContextSchema = z.strictObject({
  seLinuxOptions: opaque,
  windowsOptions: opaque,
  runAsUser: z.number().int().optional(),
  runAsGroup: z.number().int().optional(),
  runAsNonRoot: z.boolean().optional(),
  supplementalGroups: z.array(z.number().int()).optional(),
  supplementalGroupsPolicy: z.string().optional(),
  fsGroup: z.number().int().optional(),
  sysctls: z.array(z.strictObject({ name: z.string(), value: z.string() })).optional(),
  fsGroupChangePolicy: z.string().optional(),
  seccompProfile: seccompProfile.optional(),
  appArmorProfile: seccompProfile.optional(),
  seLinuxChangePolicy: z.string().optional(),
});
export type PodSecurityContext = z.infer<typeof podSecurityContextSchema>;

export const podSpecSchema = z.strictObject({
  volumes: z.array(volumeSchema).optional(),
  initContainers: z.array(containerSchema).optional(),
  containers: z.array(containerSchema).default([]),
  ephemeralContainers: opaque,
  restartPolicy: z.string().optional(),
  terminationGracePeriodSeconds: z.number().int().optional(),
  activeDeadlineSeconds: z.number().int().optional(),
  dnsPolicy: z.string().optional(),
  nodeSelector: stringMap.optional(),
  serviceAccountName: z.string().optional(),
  serviceAccount: z.string().optional(),
  automountServiceAccountToken: z.boolean().optional(),
  nodeName: z.string().optional(),
  hostNetwork: z.boolean().optional(),
  hostPID: z.boolean().optional(),
  hostIPC: z.boolean().optional(),
  shareProcessNamespace: z.boolean().optional(),
  securityContext: podSecurityContextSchema.optional(),
  imagePullSecrets: z.array(localObjectReference).optional(),
  hostname: z.string().optional(),
  subdomain: z.string().optional(),
  affinity: z.strictObject({
    nodeAffinity: z.strictObject({
      requiredDuringSchedulingIgnoredDuringExecution: z.strictObject({ nodeSelectorTerms: z.array(nodeSelectorTerm) }).optional(),
      preferredDuringSchedulingIgnoredDuringExecution: z.array(z.strictObject({ weight: z.number().int(), preference: nodeSelectorTerm })).optional(),
    }).optional(),
    podAffinity: opaque,
    podAntiAffinity: opaque,
  }).optional(),
  schedulerName: z.string().optional(),
  tolerations: z.array(tolerationSchema).optional(),
  hostAliases: z.array(z.strictObject({ ip: z.string(), hostnames: z.array(z.string()).optional() })).optional(),
  priorityClassName: z.string().optional(),
  priority: z.number().int().optional(),
  dnsConfig: z.strictObject({
    nameservers: z.array(z.string()).optional(),
    searches: z.array(z.string()).optional(),
    options: z.array(z.strictObject({ name: z.string(), value: z.string().optional() })).optional(),
  }).optional(),
  readinessGates: z.array(z.strictObject({ conditionType: z.string() })).optional(),
  runtimeClassName: z.string().optional(),
  enableServiceLinks: z.boolean().optional(),
  preemptionPolicy: z.string().optional(),
  overhead: resourceListSchema.optional(),
  topologySpreadConstraints: opaque,
  setHostnameAsFQDN: z.boolean().optional(),
  os: z.strictObject({ name: z.string() }).optional(),
  hostUsers: z.boolean().optional(),
  schedulingGates: z.array(z.strictObject({ name: z.string() })).optional(),
  resourceClaims: opaque,
  resources: opaque,
});
export type PodSpec = z.infer<typeof podSpecSchema>;

/**
 * Drops `null` values, deeply, in place: for kube-apiserver an explicit null in an object field means the field
 * is unset, and it never stores one.
 */
export function dropNulls<T>(v: T): T {
  if (Array.isArray(v)) {
    for (const item of v) dropNulls(item);
  } else if (isRecord(v)) {
    for (const [k, x] of Object.entries(v)) {
      if (x === null) delete v[k];
      else dropNulls(x);
    }
  }
  return v;
}

/** A pod's spec, parsed with the shared schema; an Invalid error names the first field that does not fit. */
export function parsePodSpec(pod: KubeObject): PodSpec {
  const parsed = podSpecSchema.safeParse(dropNulls(structuredClone(pod['spec'])));
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const path = issue ? issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('') : '';
  throw invalid(`pod/${pod.metadata.namespace ?? ''}/${pod.metadata.name ?? ''}`, `spec${path}: ${issue?.message ?? 'invalid'}`);
}

export const DEFAULT_GRACE_PERIOD_S = 30;
export const DEFAULT_TERMINATION_MESSAGE_PATH = '/dev/termination-log';
/** kube's DefaultTolerationSeconds admission: pods stay on a node that went away for 5 minutes. */
export const DEFAULT_TOLERATION_SECONDS = 300;
/** 0644, kube's default file mode for configMap, secret, downwardAPI and projected volumes. */
export const DEFAULT_VOLUME_MODE = 0o644;

export const allContainers = (spec: PodSpec): Container[] => [...(spec.initContainers ?? []), ...spec.containers];

/** Whether an image reference has no tag or the tag `latest` (pull policy Always by default). */
export function latestTag(image: string): boolean {
  const last = image.slice(image.lastIndexOf('/') + 1).split('@')[0] ?? '';
  if (image.includes('@')) return false;
  return !last.includes(':') || last.endsWith(':latest');
}

function defaultProbe(p: Probe | undefined): void {
  if (!p) return;
  p.timeoutSeconds ??= 1;
  p.periodSeconds ??= 10;
  p.successThreshold ??= 1;
  p.failureThreshold ??= 3;
  if (p.httpGet) {
    p.httpGet.path ??= '/';
    p.httpGet.scheme ??= 'HTTP';
  }
}

function defaultHandler(h: LifecycleHandler | undefined): void {
  if (h?.httpGet) {
    h.httpGet.path ??= '/';
    h.httpGet.scheme ??= 'HTTP';
  }
}

function defaultContainer(c: Container): void {
  if (c.image !== undefined) c.imagePullPolicy ??= latestTag(c.image) ? 'Always' : 'IfNotPresent';
  c.terminationMessagePath ??= DEFAULT_TERMINATION_MESSAGE_PATH;
  c.terminationMessagePolicy ??= 'File';
  const res = (c.resources ??= {});
  // Like kube-apiserver: a resource with a limit and no request is requested at its limit.
  for (const [name, limit] of Object.entries(res.limits ?? {})) {
    res.requests ??= {};
    if (res.requests[name] === undefined) res.requests[name] = limit;
  }
  for (const p of c.ports ?? []) p.protocol ??= 'TCP';
  for (const e of c.env ?? []) if (e.valueFrom?.fieldRef) e.valueFrom.fieldRef.apiVersion ??= 'v1';
  defaultProbe(c.livenessProbe);
  defaultProbe(c.readinessProbe);
  defaultProbe(c.startupProbe);
  defaultHandler(c.lifecycle?.postStart);
  defaultHandler(c.lifecycle?.preStop);
}

/** kube-apiserver's defaults for a new pod (SetDefaults_Pod and the default admission plugins), in place. */
export function defaultPodSpec(spec: PodSpec): PodSpec {
  spec.restartPolicy ??= 'Always';
  spec.terminationGracePeriodSeconds ??= DEFAULT_GRACE_PERIOD_S;
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.schedulerName ??= 'default-scheduler';
  spec.securityContext ??= {};
  spec.enableServiceLinks ??= true;
  spec.serviceAccountName ??= spec.serviceAccount ?? 'default';
  spec.serviceAccount ??= spec.serviceAccountName;
  spec.priority ??= 0;
  spec.preemptionPolicy ??= 'PreemptLowerPriority';
  for (const c of allContainers(spec)) defaultContainer(c);
  for (const v of spec.volumes ?? []) {
    if (v.configMap) v.configMap.defaultMode ??= DEFAULT_VOLUME_MODE;
    if (v.secret) v.secret.defaultMode ??= DEFAULT_VOLUME_MODE;
    if (v.downwardAPI) v.downwardAPI.defaultMode ??= DEFAULT_VOLUME_MODE;
    if (v.projected) v.projected.defaultMode ??= DEFAULT_VOLUME_MODE;
    if (v.hostPath) v.hostPath.type ??= '';
    for (const item of [...(v.downwardAPI?.items ?? []), ...(v.projected?.sources ?? []).flatMap((s) => s.downwardAPI?.items ?? [])]) {
      if (item.fieldRef) item.fieldRef.apiVersion ??= 'v1';
    }
  }
  const tolerations = (spec.tolerations ??= []);
  for (const key of ['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable']) {
    const covered = tolerations.some((t) => (t.effect === undefined || t.effect === '' || t.effect === 'NoExecute') && (t.key === key || (t.key === undefined && t.operator === 'Exists')));
    if (!covered) tolerations.push({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: DEFAULT_TOLERATION_SECONDS });
  }
  return spec;
}

/**
 * kube's QoS class from the defaulted resources: Guaranteed when every container limits CPU and memory with
 * requests equal to the limits, BestEffort when no container asks for anything, Burstable otherwise.
 */
export function qosClass(spec: PodSpec): 'Guaranteed' | 'Burstable' | 'BestEffort' {
  const lists = allContainers(spec).map((c) => ({ requests: c.resources?.requests ?? {}, limits: c.resources?.limits ?? {} }));
  const relevant = (l: Record<string, unknown>): string[] => Object.keys(l).filter((k) => k === 'cpu' || k === 'memory');
  if (lists.every((l) => relevant(l.requests).length === 0 && relevant(l.limits).length === 0)) return 'BestEffort';
  const guaranteed = lists.every((l) => ['cpu', 'memory'].every((r) => {
    const limit = l.limits[r];
    const request = l.requests[r] ?? limit;
    return limit !== undefined && quantityValue(limit) === quantityValue(request);
  }));
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

/** The container a name refers to, init containers included. */
export function findContainer(spec: PodSpec, name: string): Container | undefined {
  return allContainers(spec).find((c) => c.name === name);
}

/** Whether an init container is a sidecar (restartPolicy Always): started before the app, kept running. */
export const isSidecar = (c: Container): boolean => c.restartPolicy === 'Always';
