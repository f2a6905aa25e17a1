/**
 * What kubelet hands the container runtime for a pod: the pod sandbox config (metadata, hostname, log
 * directory, labels, pod-level resources that size a VM) and each container's config (image, command, env,
 * resources, security context, log path). Pure functions of the pod.
 */
import { join } from 'node:path';
import type { ContainerConfig, Input, LinuxContainerResources, PodSandboxConfig } from '../cri/index.js';
import { parseResourceList, type ResourceList } from '../kube/index.js';
import type { ContainerSpec, PodInfo } from './pod-spec.js';

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

const limitsOf = (c: ContainerSpec): ResourceList => parseResourceList(c.resources?.limits);
const requestsOf = (c: ContainerSpec): ResourceList => parseResourceList(c.resources?.requests);

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

export function sandboxConfig(pod: PodInfo, logsRoot: string, attempt: number): Input<PodSandboxConfig> {
  const labels = pod.object.metadata.labels ?? {};
  const overhead = parseResourceList(pod.spec.overhead);
  return {
    metadata: { name: pod.name, namespace: pod.namespace, uid: pod.uid, attempt },
    hostname: (pod.spec.hostname ?? pod.name).slice(0, 63),
    log_directory: podLogDirectory(logsRoot, pod),
    labels: { ...labels, [LABEL.podName]: pod.name, [LABEL.podNamespace]: pod.namespace, [LABEL.podUid]: pod.uid },
    annotations: { ...(pod.object.metadata.annotations ?? {}) },
    linux: {
      security_context: { namespace_options: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } },
      resources: linuxResources(podLimits(pod), {}),
      ...(Object.keys(overhead).length > 0 ? { overhead: linuxResources(overhead, overhead) } : {}),
    },
  };
}

/** Capability names as Kubernetes writes them (NET_ADMIN), for CRI, which takes them without CAP_. */
const capName = (c: string): string => c.replace(/^CAP_/, '');

export function containerConfig(pod: PodInfo, c: ContainerSpec, attempt: number, restartCount: number): Input<ContainerConfig> {
  const sc = c.securityContext;
  const runAsUser = sc?.runAsUser ?? pod.spec.securityContext?.runAsUser;
  const runAsGroup = sc?.runAsGroup ?? pod.spec.securityContext?.runAsGroup;
  return {
    metadata: { name: c.name, attempt },
    image: { image: c.image },
    command: c.command ?? [],
    args: c.args ?? [],
    working_dir: c.workingDir ?? '',
    envs: (c.env ?? []).map((e) => ({ key: e.name, value: e.value ?? '' })),
    labels: { [LABEL.containerName]: c.name, [LABEL.podName]: pod.name, [LABEL.podNamespace]: pod.namespace, [LABEL.podUid]: pod.uid },
    annotations: { [RESTART_COUNT_ANNOTATION]: String(restartCount) },
    log_path: containerLogPath(c.name, attempt),
    stdin: c.stdin ?? false,
    stdin_once: c.stdinOnce ?? false,
    tty: c.tty ?? false,
    linux: {
      resources: linuxResources(limitsOf(c), requestsOf(c)),
      security_context: {
        namespace_options: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' },
        privileged: sc?.privileged ?? false,
        readonly_rootfs: sc?.readOnlyRootFilesystem ?? false,
        no_new_privs: sc?.allowPrivilegeEscalation === false,
        ...(runAsUser !== undefined ? { run_as_user: { value: runAsUser } } : {}),
        ...(runAsGroup !== undefined ? { run_as_group: { value: runAsGroup } } : {}),
        ...(sc?.capabilities ? { capabilities: { add_capabilities: (sc.capabilities.add ?? []).map(capName), drop_capabilities: (sc.capabilities.drop ?? []).map(capName) } } : {}),
      },
    },
  };
}
