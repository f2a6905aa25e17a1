/**
 * What kubelet hands the container runtime for a pod: the pod sandbox config (metadata, hostname, DNS, log
 * directory, labels, namespaces, privilege, sysctls, pod-level resources that size a VM) and each container's
 * config (image, command, environment, mounts, resources, security context, log path). Pure functions of the
 * pod and of what the node resolved for it (environment, mounts).
 */
import { join } from 'node:path';
import type { ContainerConfig, DNSConfig, Input, LinuxContainerResources, Mount, NamespaceOption, PodSandboxConfig, SecurityProfile } from '../cri/index.js';
import { allContainers, parseResourceList, type Container, type ResourceList } from '../kube/index.js';
import type { PodInfo } from './pod-spec.js';

/** The labels kubelet puts on CRI objects; the agent finds its pods and containers by them after a restart. */
export const LABEL = {
  podName: 'io.kubernetes.pod.name',
  podNamespace: 'io.kubernetes.pod.namespace',
  podUid: 'io.kubernetes.pod.uid',
  containerName: 'io.kubernetes.container.name',
} as const;
export const RESTART_COUNT_ANNOTATION = 'io.kubernetes.container.restartCount';

const CPU_PERIOD_US = 100_000;
const MIN_CPU_SHARES = 2;

/** The directory CRI writes the pod's container logs under: <logs>/<ns>_<name>_<uid>. */
export const podLogDirectory = (logsRoot: string, pod: PodInfo): string => join(logsRoot, `${pod.namespace}_${pod.name}_${pod.uid}`);
/** A container instance's log file, relative to the pod's log directory. */
export const containerLogPath = (container: string, attempt: number): string => join(container, `${attempt}.log`);

/** CFS quota, shares and memory limit from a container's (or a pod's summed) limits and requests. */
export function linuxResources(limits: ResourceList, requests: ResourceList): Input<LinuxContainerResources> {
  const cpuLimit = limits['cpu'];
  const cpuRequest = requests['cpu'] ?? cpuLimit;
  return {
    ...(cpuLimit ? { cpu_period: CPU_PERIOD_US, cpu_quota: Math.round(cpuLimit * CPU_PERIOD_US) } : {}),
    cpu_shares: cpuRequest ? Math.max(MIN_CPU_SHARES, Math.round(cpuRequest * 1024)) : MIN_CPU_SHARES,
    ...(limits['memory'] ? { memory_limit_in_bytes: Math.round(limits['memory']) } : {}),
  };
}

const limitsOf = (c: Container): ResourceList => parseResourceList(c.resources?.limits);
const requestsOf = (c: Container): ResourceList => parseResourceList(c.resources?.requests);

/**
 * Pod-level limits, as kubelet computes them: the larger of the app containers' sum and the biggest init
 * container, per resource, and only when every app container sets that limit. They size a VM pod.
 */
export function podLimits(pod: PodInfo): ResourceList {
  const out: ResourceList = {};
  for (const r of ['cpu', 'memory']) {
    const values = pod.spec.containers.map((c) => limitsOf(c)[r]);
    if (values.some((v) => v === undefined)) continue;
    const sum = (values as number[]).reduce((a, b) => a + b, 0);
    const init = Math.max(0, ...(pod.spec.initContainers ?? []).map((c) => limitsOf(c)[r] ?? 0));
    out[r] = Math.max(sum, init);
  }
  return out;
}

/** The pod's hostname (63 characters at most, as kubelet truncates) and its FQDN when it has a subdomain. */
export function podHostname(pod: PodInfo, clusterDomain = 'cluster.local'): { hostname: string; fqdn?: string } {
  const hostname = (pod.spec.hostname ?? pod.name).slice(0, 63).replace(/[-.]+$/, '');
  const fqdn = pod.spec.subdomain ? `${hostname}.${pod.spec.subdomain}.${pod.namespace}.svc.${clusterDomain}` : undefined;
  return { hostname, ...(fqdn ? { fqdn } : {}) };
}

function namespaces(pod: PodInfo): Input<NamespaceOption> {
  const s = pod.spec;
  return {
    network: s.hostNetwork ? 'NODE' : 'POD',
    pid: s.hostPID ? 'NODE' : s.shareProcessNamespace ? 'POD' : 'CONTAINER',
    ipc: s.hostIPC ? 'NODE' : 'POD',
  };
}

function profile(p: { type: string } | undefined): Input<SecurityProfile> | undefined {
  if (!p) return undefined;
  return { profile_type: p.type === 'RuntimeDefault' ? 'RuntimeDefault' : p.type === 'Localhost' ? 'Localhost' : 'Unconfined' };
}

/** The pod's groups for every container: supplementalGroups and the fsGroup, which owns its volumes. */
const supplementalGroups = (pod: PodInfo): number[] => {
  const sc = pod.spec.securityContext;
  return [...new Set([...(sc?.supplementalGroups ?? []), ...(sc?.fsGroup !== undefined ? [sc.fsGroup] : [])])];
};

export interface SandboxExtras {
  dns?: DNSConfig;
  /** Annotations for the runtime beyond the pod's own (e.g. the VM runtime's memory volumes). */
  annotations?: Record<string, string>;
}

export function sandboxConfig(pod: PodInfo, logsRoot: string, attempt: number, extras: SandboxExtras = {}): Input<PodSandboxConfig> {
  const labels = pod.object.metadata.labels ?? {};
  const overhead = parseResourceList(pod.spec.overhead);
  const sc = pod.spec.securityContext;
  const { hostname, fqdn } = podHostname(pod);
  const seccomp = profile(sc?.seccompProfile);
  const groups = supplementalGroups(pod);
  return {
    metadata: { name: pod.name, namespace: pod.namespace, uid: pod.uid, attempt },
    hostname: pod.spec.setHostnameAsFQDN && fqdn ? fqdn : hostname,
    log_directory: podLogDirectory(logsRoot, pod),
    ...(extras.dns ? { dns_config: extras.dns } : {}),
    labels: { ...labels, [LABEL.podName]: pod.name, [LABEL.podNamespace]: pod.namespace, [LABEL.podUid]: pod.uid },
    annotations: { ...(pod.object.metadata.annotations ?? {}), ...extras.annotations },
    linux: {
      security_context: {
        namespace_options: namespaces(pod),
        // containerd refuses a privileged container in a sandbox that is not privileged, as kubelet arranges it.
        privileged: allContainers(pod.spec).some((c) => c.securityContext?.privileged === true),
        ...(sc?.runAsUser !== undefined ? { run_as_user: { value: sc.runAsUser } } : {}),
        ...(sc?.runAsGroup !== undefined ? { run_as_group: { value: sc.runAsGroup } } : {}),
        ...(groups.length > 0 ? { supplemental_groups: groups } : {}),
        ...(seccomp ? { seccomp } : {}),
      },
      ...((sc?.sysctls ?? []).length > 0 ? { sysctls: Object.fromEntries((sc?.sysctls ?? []).map((s) => [s.name, s.value])) } : {}),
      resources: linuxResources(podLimits(pod), {}),
      ...(Object.keys(overhead).length > 0 ? { overhead: linuxResources(overhead, overhead) } : {}),
    },
  };
}

/** Capability names as Kubernetes writes them (NET_ADMIN), for CRI, which takes them without CAP_. */
const capName = (c: string): string => c.replace(/^CAP_/, '');

/** What the node resolved for one container instance. */
export interface ContainerExtras {
  env: Array<[string, string]>;
  command: string[];
  args: string[];
  mounts: Input<Mount>[];
}

export function containerConfig(pod: PodInfo, c: Container, attempt: number, restartCount: number, extras: ContainerExtras): Input<ContainerConfig> {
  const sc = c.securityContext;
  const psc = pod.spec.securityContext;
  const runAsUser = sc?.runAsUser ?? psc?.runAsUser;
  const runAsGroup = sc?.runAsGroup ?? psc?.runAsGroup;
  const seccomp = profile(sc?.seccompProfile ?? psc?.seccompProfile);
  const groups = supplementalGroups(pod);
  return {
    metadata: { name: c.name, attempt },
    image: { image: c.image ?? '' },
    command: extras.command,
    args: extras.args,
    working_dir: c.workingDir ?? '',
    envs: extras.env.map(([key, value]) => ({ key, value })),
    mounts: extras.mounts,
    labels: { [LABEL.containerName]: c.name, [LABEL.podName]: pod.name, [LABEL.podNamespace]: pod.namespace, [LABEL.podUid]: pod.uid },
    annotations: { [RESTART_COUNT_ANNOTATION]: String(restartCount) },
    log_path: containerLogPath(c.name, attempt),
    stdin: c.stdin ?? false,
    stdin_once: c.stdinOnce ?? false,
    tty: c.tty ?? false,
    linux: {
      resources: linuxResources(limitsOf(c), requestsOf(c)),
      security_context: {
        namespace_options: namespaces(pod),
        privileged: sc?.privileged ?? false,
        readonly_rootfs: sc?.readOnlyRootFilesystem ?? false,
        no_new_privs: sc?.allowPrivilegeEscalation === false,
        ...(runAsUser !== undefined ? { run_as_user: { value: runAsUser } } : {}),
        ...(runAsGroup !== undefined ? { run_as_group: { value: runAsGroup } } : {}),
        ...(groups.length > 0 ? { supplemental_groups: groups } : {}),
        ...(seccomp ? { seccomp } : {}),
        ...(sc?.capabilities ? { capabilities: { add_capabilities: (sc.capabilities.add ?? []).map(capName), drop_capabilities: (sc.capabilities.drop ?? []).map(capName) } } : {}),
      },
    },
  };
}
