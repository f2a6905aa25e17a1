/**
 * Pod admission for RuntimeClasses: the class must exist; its overhead and scheduling constraints are copied
 * into the pod; pods of a VM-isolation class may not ask for host namespaces or host devices (they run in their
 * own VM, where those would mean nothing or break isolation); privileged is allowed with a warning; a VM pod
 * with no memory limit gets a default-sized VM, recorded in an annotation.
 */
import { forbidden, formatBytes, isRecord, quantityValue, type FieldError, type KubeObject } from '../kube/index.js';
import { at } from './resources/resource.js';

export const vmHandler = 'sandpod-vm';
export const vmMemoryAnnotation = 'sandpod.io/vm-memory';
export const vmIsolationLabel = 'sandpod.io/vm-isolation';
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

type Obj = Record<string, unknown>;
const asObj = (v: unknown): Obj => (isRecord(v) ? v : {});
const containersOf = (spec: Obj): Array<{ c: Obj; field: string }> => [
  ...(Array.isArray(spec['initContainers']) ? spec['initContainers'] : []).map((c, i) => ({ c: asObj(c), field: `spec.initContainers[${i}]` })),
  ...(Array.isArray(spec['containers']) ? spec['containers'] : []).map((c, i) => ({ c: asObj(c), field: `spec.containers[${i}]` })),
];

function vmChecks(spec: Obj, className: string): { errors: FieldError[]; warnings: string[] } {
  const errors: FieldError[] = [];
  const warnings: string[] = [];
  const why = `pods of RuntimeClass "${className}" run in their own VM with their own kernel`;
  for (const key of ['hostNetwork', 'hostPID', 'hostIPC'] as const) {
    if (spec[key] === true) errors.push(forbidden(`spec.${key}`, `${why}, so they cannot share the host's ${key.slice(4).toLowerCase()} namespace; remove ${key} or use runtimeClassName "runc"`));
  }
  (Array.isArray(spec['volumes']) ? spec['volumes'] : []).forEach((v, i) => {
    const hp = asObj(asObj(v)['hostPath']);
    const type = String(hp['type'] ?? '');
    const path = String(hp['path'] ?? '');
    if (type === 'CharDevice' || type === 'BlockDevice' || path === '/dev' || path.startsWith('/dev/')) {
      errors.push(forbidden(`spec.volumes[${i}].hostPath`, `${why}; host devices cannot be passed into the VM; remove the hostPath device volume or use runtimeClassName "runc"`));
    }
  });
  for (const { c, field } of containersOf(spec)) {
    if (Array.isArray(c['volumeDevices']) && c['volumeDevices'].length > 0) {
      errors.push(forbidden(`${field}.volumeDevices`, `${why}; raw block devices cannot be passed into the VM`));
    }
    const res = asObj(c['resources']);
    for (const kind of ['limits', 'requests']) {
      for (const name of Object.keys(asObj(res[kind]))) {
        if (!nativeResource(name)) errors.push(forbidden(`${field}.resources.${kind}[${name}]`, `${why}; device-plugin resources such as "${name}" cannot be attached to the VM`));
      }
    }
    if (asObj(c['securityContext'])['privileged'] === true) {
      warnings.push(`${field}.securityContext.privileged: in RuntimeClass "${className}" privileged grants power inside the pod's VM only, not over the host`);
    }
  }
  return { errors, warnings };
}

/** The VM's memory: the sum of the containers' memory limits when every container has one, else the default. */
function vmMemory(spec: Obj): number {
  const limits = (Array.isArray(spec['containers']) ? spec['containers'] : []).map((c) => quantityValue(asObj(asObj(asObj(c)['resources'])['limits'])['memory']));
  if (limits.length === 0 || limits.some((l) => l === undefined)) return defaultVmMemoryBytes;
  return limits.reduce<number>((a, b) => a + (b ?? 0), 0);
}

/** Admits a new pod against its RuntimeClass, mutating it in place. */
export async function admitPod(pod: KubeObject, getRuntimeClass: (name: string) => Promise<KubeObject | undefined>, knownClasses: () => Promise<string[]>): Promise<AdmissionResult> {
  const spec = asObj(pod['spec']);
  const className = spec['runtimeClassName'];
  if (typeof className !== 'string' || className === '') return { warnings: [], errors: [] };
  const rc = await getRuntimeClass(className);
  if (!rc) {
    return { warnings: [], errors: [], forbidden: `pod rejected: RuntimeClass "${className}" not found; create it or use one of: ${(await knownClasses()).join(', ')}` };
  }
  const podFixed = at(rc, 'overhead', 'podFixed');
  if (isRecord(podFixed)) {
    if (spec['overhead'] !== undefined && JSON.stringify(spec['overhead']) !== JSON.stringify(podFixed)) {
      return { warnings: [], errors: [], forbidden: `pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead; remove spec.overhead, it is set from RuntimeClass "${className}"` };
    }
    spec['overhead'] = structuredClone(podFixed);
  }
  const sched = asObj(rc['scheduling']);
  const selector = asObj(sched['nodeSelector']);
  if (Object.keys(selector).length > 0) {
    const podSelector = asObj(spec['nodeSelector']);
    for (const [k, v] of Object.entries(selector)) {
      if (k in podSelector && podSelector[k] !== v) {
        return { warnings: [], errors: [], forbidden: `pod rejected: conflict: runtimeClass.scheduling.nodeSelector[${k}] = ${String(v)}; pod.spec.nodeSelector[${k}] = ${String(podSelector[k])}` };
      }
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
  if (rc['handler'] !== vmHandler) return { warnings: [], errors: [] };
  const { errors, warnings } = vmChecks(spec, className);
  if (errors.length === 0) {
    pod.metadata.annotations = { ...(pod.metadata.annotations ?? {}), [vmMemoryAnnotation]: formatBytes(vmMemory(spec)) };
  }
  return { warnings, errors };
}

/** The RuntimeClasses every cluster starts with; the kata names are aliases so AKS manifests work unchanged. */
export function defaultRuntimeClasses(): KubeObject[] {
  const vm = (name: string): KubeObject => ({
    apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass', metadata: { name },
    handler: vmHandler,
    overhead: { podFixed: { cpu: '100m', memory: '64Mi' } },
    scheduling: {
      nodeSelector: { [vmIsolationLabel]: 'true' },
      tolerations: [{ key: vmIsolationLabel, operator: 'Exists', effect: 'NoSchedule' }],
    },
  });
  return [
    { apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass', metadata: { name: 'runc' }, handler: 'runc' },
    vm('vm-isolation'), vm('kata-vm-isolation'), vm('kata-mshv-vm-isolation'),
  ];
}
