/**
 * Pod admission: the RuntimeClass must exist, and its overhead and scheduling constraints are copied into the pod;
 * fields Kubernetes knows but Sandpod's nodes cannot honour are refused with the reason (never dropped later on a
 * node); pods of a VM-isolation class may not ask for host namespaces, host paths or host devices (they run in
 * their own VM, where those would mean nothing or break isolation); privileged is allowed with a warning; a VM pod
 * with no memory limit gets a default-sized VM, recorded in an annotation.
 */
import {
  forbidden, formatBytes, isRecord, notSupported, parsePodSpec, quantityValue, supportedVolumeSources, unsupportedVolumeSources,
  type Container, type FieldError, type KubeObject, type PodSpec,
  VM_ISOLATION_LABEL, VM_RUNTIME_CLASS_NAMES, vmRuntimeClass,
} from '../kube/index.js';
import { at } from './resources/resource.js';

export const vmHandler = 'sandpod-vm';
export const vmMemoryAnnotation = 'sandpod.io/vm-memory';
/**
 * The label of nodes that run VM-isolated pods, as AKS puts it on Pod Sandboxing pools (every such pool, the legacy
 * KataMshvVmIsolation runtime included); the VM RuntimeClasses select it and tolerate a taint of the same key.
 */
export const vmIsolationLabel = VM_ISOLATION_LABEL;
export const defaultVmMemoryBytes = 512 * 2 ** 20;

/** Resources the kubelet itself understands; anything else with a domain prefix comes from a device plugin. */
const nativeResource = (name: string): boolean =>
  !name.includes('/') || name.startsWith('kubernetes.io/') || name.startsWith('requests.') || name.startsWith('hugepages-');

export interface AdmissionResult {
  warnings: string[];
  /** Field errors that make the pod Invalid (422). */
  errors: FieldError[];
  /** A reason the pod is Forbidden (403), e.g. an unknown RuntimeClass. */
  forbidden?: string;
}

/** What admission looks up in the cluster. */
export interface AdmissionLookups {
  runtimeClass(name: string): Promise<KubeObject | undefined>;
  runtimeClassNames(): Promise<string[]>;
  /** Whether a ServiceAccount exists; undefined when the cluster does not serve them. */
  serviceAccountExists?(namespace: string, name: string): Promise<boolean>;
}

type Obj = Record<string, unknown>;
const asObj = (v: unknown): Obj => (isRecord(v) ? v : {});
const containersOf = (spec: PodSpec): Array<{ c: Container; field: string }> => [
  ...(spec.initContainers ?? []).map((c, i) => ({ c, field: `spec.initContainers[${i}]` })),
  ...spec.containers.map((c, i) => ({ c, field: `spec.containers[${i}]` })),
];

/**
 * Sysctls kubelet allows by default ("safe": namespaced, and unable to affect other pods). A VM pod may set any
 * namespaced sysctl, since its kernel is its own.
 */
export const safeSysctls = [
  'kernel.shm_rmid_forced', 'net.ipv4.ip_local_port_range', 'net.ipv4.tcp_syncookies', 'net.ipv4.ping_group_range',
  'net.ipv4.ip_unprivileged_port_start', 'net.ipv4.ip_local_reserved_ports', 'net.ipv4.tcp_keepalive_time',
  'net.ipv4.tcp_fin_timeout', 'net.ipv4.tcp_keepalive_intvl', 'net.ipv4.tcp_keepalive_probes', 'net.ipv4.tcp_rmem', 'net.ipv4.tcp_wmem',
];
/** Sysctls that belong to a pod's own kernel namespaces (IPC, network, UTS). */
const namespacedSysctl = (name: string): boolean =>
  /^(kernel\.(shm|msg|sem)|fs\.mqueue\.|net\.)/.test(name) || ['kernel.shm_rmid_forced', 'kernel.domainname', 'kernel.hostname'].includes(name);

/**
 * Fields Kubernetes knows that Sandpod's nodes cannot honour, for any pod: refused here with the reason, so
 * nothing a user writes is dropped later on a node.
 */
function unsupported(spec: PodSpec, vm: boolean): FieldError[] {
  const errors: FieldError[] = [];
  const no = (field: string, why: string): void => { errors.push(forbidden(field, why)); };
  (spec.volumes ?? []).forEach((v, i) => {
    const f = `spec.volumes[${i}]`;
    for (const source of unsupportedVolumeSources) {
      if (v[source] !== undefined) no(`${f}.${source}`, `volume type ${source} is not supported by Sandpod's nodes; supported volume types: ${supportedVolumeSources.join(', ')}`);
    }
    (v.projected?.sources ?? []).forEach((s, j) => {
      for (const key of ['serviceAccountToken', 'clusterTrustBundle', 'podCertificate'] as const) {
        if (s[key] !== undefined) no(`${f}.projected.sources[${j}].${key}`, `projected ${key} sources are not supported by Sandpod; supported sources: configMap, secret, downwardAPI`);
      }
    });
    if (v.emptyDir?.medium?.startsWith('HugePages')) no(`${f}.emptyDir.medium`, 'hugepages are not offered by Sandpod\'s nodes; use medium "" or "Memory"');
  });
  for (const { c, field } of containersOf(spec)) {
    if (c.volumeDevices !== undefined) no(`${field}.volumeDevices`, 'raw block volumes need persistent volumes, which Sandpod does not provide');
    if (c.resources?.claims !== undefined) no(`${field}.resources.claims`, 'dynamic resource allocation is not supported by Sandpod');
    (c.ports ?? []).forEach((p, i) => {
      if (p.hostPort) no(`${field}.ports[${i}].hostPort`, 'host ports are not published by Sandpod\'s nodes; reach the pod with kubectl port-forward or by its pod IP');
      if (p.hostIP) no(`${field}.ports[${i}].hostIP`, 'host ports are not published by Sandpod\'s nodes');
    });
    if (c.lifecycle?.stopSignal !== undefined) no(`${field}.lifecycle.stopSignal`, 'custom stop signals are not supported; the container gets SIGTERM, then SIGKILL after the grace period');
    for (const key of ['postStart', 'preStop'] as const) {
      if (c.lifecycle?.[key]?.tcpSocket) no(`${field}.lifecycle.${key}.tcpSocket`, 'tcpSocket is not a supported lifecycle handler (kubelet ignores it); use exec, httpGet or sleep');
    }
    const sc = c.securityContext;
    if (sc?.seLinuxOptions !== undefined) no(`${field}.securityContext.seLinuxOptions`, 'SELinux is not enabled on Sandpod\'s nodes');
    if (sc?.windowsOptions !== undefined) no(`${field}.securityContext.windowsOptions`, 'Sandpod\'s nodes run Linux only');
    if (sc?.procMount !== undefined && sc.procMount !== 'Default') no(`${field}.securityContext.procMount`, 'only procMount Default is supported');
    errors.push(...profileChecks(sc?.seccompProfile, `${field}.securityContext.seccompProfile`), ...appArmorChecks(sc?.appArmorProfile, `${field}.securityContext.appArmorProfile`));
    for (const m of c.volumeMounts ?? []) {
      if (m.mountPropagation === 'Bidirectional' || m.mountPropagation === 'HostToContainer') {
        if (vm) no(`${field}.volumeMounts`, `mount propagation ${m.mountPropagation} cannot cross the pod's VM boundary; remove mountPropagation`);
      }
    }
  }
  const psc = spec.securityContext;
  if (psc?.seLinuxOptions !== undefined) no('spec.securityContext.seLinuxOptions', 'SELinux is not enabled on Sandpod\'s nodes');
  if (psc?.seLinuxChangePolicy !== undefined) no('spec.securityContext.seLinuxChangePolicy', 'SELinux is not enabled on Sandpod\'s nodes');
  if (psc?.windowsOptions !== undefined) no('spec.securityContext.windowsOptions', 'Sandpod\'s nodes run Linux only');
  if (psc?.supplementalGroupsPolicy !== undefined && psc.supplementalGroupsPolicy !== 'Merge') no('spec.securityContext.supplementalGroupsPolicy', 'only Merge is supported: the image\'s groups for the user are kept');
  errors.push(...profileChecks(psc?.seccompProfile, 'spec.securityContext.seccompProfile'), ...appArmorChecks(psc?.appArmorProfile, 'spec.securityContext.appArmorProfile'));
  (psc?.sysctls ?? []).forEach((s, i) => {
    const f = `spec.securityContext.sysctls[${i}].name`;
    if (!namespacedSysctl(s.name)) no(f, `sysctl ${s.name} is not namespaced: it would change the whole node's kernel`);
    else if (!vm && !safeSysctls.includes(s.name)) no(f, `sysctl ${s.name} is unsafe for a pod that shares the node's kernel; Sandpod's nodes allow only the safe ones (${safeSysctls.join(', ')}), or use a VM-isolation RuntimeClass, where every namespaced sysctl applies to the pod's own kernel`);
  });
  if (spec.hostUsers === false) no('spec.hostUsers', 'user namespaces are not supported by Sandpod\'s nodes');
  if (spec.shareProcessNamespace && vm) no('spec.shareProcessNamespace', 'the containers of a VM pod each have their own process namespace inside the VM; remove shareProcessNamespace or use runtimeClassName "runc"');
  if (spec.affinity?.podAffinity !== undefined) no('spec.affinity.podAffinity', 'inter-pod affinity is not supported by Sandpod\'s scheduler; use nodeSelector or nodeAffinity');
  if (spec.affinity?.podAntiAffinity !== undefined) no('spec.affinity.podAntiAffinity', 'inter-pod anti-affinity is not supported by Sandpod\'s scheduler; use nodeSelector or nodeAffinity');
  if (spec.topologySpreadConstraints !== undefined) no('spec.topologySpreadConstraints', 'topology spread constraints are not supported by Sandpod\'s scheduler');
  if (spec.resourceClaims !== undefined) no('spec.resourceClaims', 'dynamic resource allocation is not supported by Sandpod');
  if (spec.resources !== undefined) no('spec.resources', 'pod-level resources are not supported; set resources on each container');
  if (spec.ephemeralContainers !== undefined) no('spec.ephemeralContainers', 'cannot be set on create');
  if (spec.os && spec.os.name !== 'linux') no('spec.os.name', 'Sandpod\'s nodes run Linux only');
  if (spec.priorityClassName) no('spec.priorityClassName', `no PriorityClass with name ${spec.priorityClassName} was found: Sandpod does not serve PriorityClasses`);
  if (spec.priority !== undefined && spec.priority !== 0) no('spec.priority', `the integer value of priority (${spec.priority}) must not be provided in pod spec; priority admission controller computed 0 from the given PriorityClass name`);
  if (spec.automountServiceAccountToken === true) no('spec.automountServiceAccountToken', 'Sandpod does not issue service account tokens to pods; set automountServiceAccountToken: false');
  return errors;
}

/** seccompProfile: RuntimeDefault and Unconfined in both runtimes (a VM pod's guest applies the filter, docs/shim.md). */
function profileChecks(p: { type: string; localhostProfile?: string } | undefined, field: string): FieldError[] {
  if (!p) return [];
  const types = ['RuntimeDefault', 'Unconfined', 'Localhost'];
  if (!types.includes(p.type)) return [notSupported(`${field}.type`, p.type, types)];
  if (p.type === 'Localhost') return [forbidden(`${field}.type`, 'Localhost seccomp profiles are not installed on Sandpod\'s nodes; use RuntimeDefault or Unconfined')];
  return [];
}

function appArmorChecks(p: { type: string } | undefined, field: string): FieldError[] {
  if (!p || p.type === 'Unconfined') return [];
  return [forbidden(`${field}.type`, 'AppArmor is not enabled on Sandpod\'s nodes; use type Unconfined or leave appArmorProfile out')];
}

function vmChecks(spec: PodSpec, className: string): { errors: FieldError[]; warnings: string[] } {
  const errors: FieldError[] = [];
  const warnings: string[] = [];
  const why = `pods of RuntimeClass "${className}" run in their own VM with their own kernel`;
  for (const key of ['hostNetwork', 'hostPID', 'hostIPC'] as const) {
    if (spec[key] === true) errors.push(forbidden(`spec.${key}`, `${why}, so they cannot share the host's ${key.slice(4).toLowerCase()} namespace; remove ${key} or use runtimeClassName "runc"`));
  }
  (spec.volumes ?? []).forEach((v, i) => {
    if (!v.hostPath) return;
    const device = ['CharDevice', 'BlockDevice'].includes(v.hostPath.type ?? '') || v.hostPath.path === '/dev' || v.hostPath.path.startsWith('/dev/');
    errors.push(forbidden(`spec.volumes[${i}].hostPath`, device
      ? `${why}; host devices cannot be passed into the VM; remove the hostPath device volume or use runtimeClassName "runc"`
      : `${why}; the host's files stay outside the VM; use an emptyDir, configMap or secret volume, or runtimeClassName "runc"`));
  });
  for (const { c, field } of containersOf(spec)) {
    for (const kind of ['limits', 'requests'] as const) {
      for (const name of Object.keys(c.resources?.[kind] ?? {})) {
        if (!nativeResource(name)) errors.push(forbidden(`${field}.resources.${kind}[${name}]`, `${why}; device-plugin resources such as "${name}" cannot be attached to the VM`));
      }
    }
    if (c.securityContext?.privileged === true) {
      warnings.push(`${field}.securityContext.privileged: in RuntimeClass "${className}" privileged grants power inside the pod's VM only, not over the host`);
    }
  }
  return { errors, warnings };
}

/** The VM's memory: the sum of the containers' memory limits when every container has one, else the default. */
function vmMemory(spec: PodSpec): number {
  const limits = spec.containers.map((c) => quantityValue(c.resources?.limits?.['memory']));
  if (limits.length === 0 || limits.some((l) => l === undefined)) return defaultVmMemoryBytes;
  return limits.reduce<number>((a, b) => a + (b ?? 0), 0);
}

/** Copies the RuntimeClass's overhead and scheduling into the pod; a reason when they conflict with the pod's own. */
function applyRuntimeClass(spec: Obj, rc: KubeObject, className: string): string | undefined {
  const podFixed = at(rc, 'overhead', 'podFixed');
  if (isRecord(podFixed)) {
    if (spec['overhead'] !== undefined && JSON.stringify(spec['overhead']) !== JSON.stringify(podFixed)) {
      return `pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead; remove spec.overhead, it is set from RuntimeClass "${className}"`;
    }
    spec['overhead'] = structuredClone(podFixed);
  }
  const sched = asObj(rc['scheduling']);
  const selector = asObj(sched['nodeSelector']);
  if (Object.keys(selector).length > 0) {
    const podSelector = asObj(spec['nodeSelector']);
    for (const [k, v] of Object.entries(selector)) {
      if (k in podSelector && podSelector[k] !== v) return `pod rejected: conflict: runtimeClass.scheduling.nodeSelector[${k}] = ${String(v)}; pod.spec.nodeSelector[${k}] = ${String(podSelector[k])}`;
      podSelector[k] = v;
    }
    spec['nodeSelector'] = podSelector;
  }
  if (Array.isArray(sched['tolerations'])) {
    const tolerations = Array.isArray(spec['tolerations']) ? spec['tolerations'] : [];
    for (const t of sched['tolerations']) {
      if (!tolerations.some((x) => JSON.stringify(x) === JSON.stringify(t))) tolerations.push(structuredClone(t));
    }
    spec['tolerations'] = tolerations;
  }
  return undefined;
}

/**
 * Admits a new (defaulted) pod, mutating it in place: its RuntimeClass must exist and lends it overhead and
 * scheduling; fields no node can honour are refused; VM pods get their VM size; the service account must exist
 * and no token is mounted (Sandpod issues none, and says so in the spec).
 */
export async function admitPod(pod: KubeObject, lookups: AdmissionLookups): Promise<AdmissionResult> {
  const raw = asObj(pod['spec']);
  const className = typeof raw['runtimeClassName'] === 'string' ? raw['runtimeClassName'] : '';
  let vm = false;
  if (className !== '') {
    const rc = await lookups.runtimeClass(className);
    if (!rc) {
      return { warnings: [], errors: [], forbidden: `pod rejected: RuntimeClass "${className}" not found; create it or use one of: ${(await lookups.runtimeClassNames()).join(', ')}` };
    }
    const conflict = applyRuntimeClass(raw, rc, className);
    if (conflict) return { warnings: [], errors: [], forbidden: conflict };
    vm = rc['handler'] === vmHandler;
  }
  const spec = parsePodSpec(pod);
  const errors = unsupported(spec, vm);
  const warnings: string[] = [];
  if (vm) {
    const checked = vmChecks(spec, className);
    errors.push(...checked.errors);
    warnings.push(...checked.warnings);
  }
  const account = spec.serviceAccountName ?? 'default';
  if (lookups.serviceAccountExists && !(await lookups.serviceAccountExists(pod.metadata.namespace ?? 'default', account))) {
    return { warnings, errors, forbidden: `error looking up service account ${pod.metadata.namespace ?? 'default'}/${account}: serviceaccount "${account}" not found` };
  }
  if (errors.length === 0) {
    raw['automountServiceAccountToken'] ??= false;
    if (vm) pod.metadata.annotations = { ...(pod.metadata.annotations ?? {}), [vmMemoryAnnotation]: formatBytes(vmMemory(spec)) };
  }
  return { warnings, errors };
}

/** The RuntimeClasses every cluster starts with; the kata names are aliases so AKS manifests work unchanged. */
export function defaultRuntimeClasses(): KubeObject[] {
  return [
    { apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass', metadata: { name: 'runc' }, handler: 'runc' },
    ...VM_RUNTIME_CLASS_NAMES.map((name) => vmRuntimeClass(name, vmHandler)),
  ];
}
