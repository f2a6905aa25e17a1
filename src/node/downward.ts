/**
 * The downward API: a pod's own facts (name, labels, IPs, its containers' resources) as strings, formatted as
 * kubelet formats them, for environment variables and downwardAPI volumes alike.
 */
import { invalid } from '../errors.js';
import { findContainer, quantityValue, type KubeObject, type PodSpec } from '../kube/index.js';

/** What the node knows of a pod beyond its object: where it runs and the node's allocatable resources. */
export interface PodFacts {
  nodeName: string;
  hostIP: string;
  podIP?: string;
  /** Node allocatable, the value of an unset limit (cores, bytes). */
  allocatable: { cpu: number; memory: number; 'ephemeral-storage': number };
}

/** kubelet's FormatMap: `key="value"` lines, sorted by key, with Go's string quoting. */
export function formatMap(m: Record<string, string> | undefined): string {
  return Object.keys(m ?? {}).sort().map((k) => `${k}=${JSON.stringify(m?.[k] ?? '')}`).join('\n');
}

const subscript = /^metadata\.(labels|annotations)\['([^']+)'\]$/;

/** The value of a fieldRef path for this pod. */
export function fieldValue(path: string, pod: KubeObject, spec: PodSpec, facts: PodFacts): string {
  const m = subscript.exec(path);
  if (m) return (m[1] === 'labels' ? pod.metadata.labels : pod.metadata.annotations)?.[m[2]!] ?? '';
  switch (path) {
    case 'metadata.name': return pod.metadata.name ?? '';
    case 'metadata.namespace': return pod.metadata.namespace ?? '';
    case 'metadata.uid': return pod.metadata.uid ?? '';
    case 'metadata.labels': return formatMap(pod.metadata.labels);
    case 'metadata.annotations': return formatMap(pod.metadata.annotations);
    case 'spec.nodeName': return facts.nodeName;
    case 'spec.serviceAccountName': return spec.serviceAccountName ?? 'default';
    case 'status.hostIP': case 'status.hostIPs': return facts.hostIP;
    case 'status.podIP': case 'status.podIPs': return facts.podIP ?? '';
    default: throw invalid(`pod/${pod.metadata.namespace ?? ''}/${pod.metadata.name ?? ''}`, `unsupported fieldPath: ${path}`);
  }
}

/**
 * The value of a resourceFieldRef: the container's limit (node allocatable when it has none) or request, in
 * units of the divisor, rounded up, as kubelet reports it.
 */
export function resourceValue(ref: { containerName?: string; resource: string; divisor?: string | number }, spec: PodSpec, container: string, facts: PodFacts): string {
  const name = ref.containerName || container;
  const c = findContainer(spec, name);
  const [kind, resource] = ref.resource.split('.') as ['limits' | 'requests', 'cpu' | 'memory' | 'ephemeral-storage'];
  const set = c?.resources?.[kind]?.[resource];
  const value = set !== undefined ? quantityValue(set) ?? 0 : kind === 'limits' ? facts.allocatable[resource] : 0;
  const divisor = quantityValue(ref.divisor ?? 1) || 1;
  // A tiny epsilon keeps 0.5 cores / 1m from becoming 500.00000000000006 and rounding up to 501.
  return String(Math.ceil(value / divisor - 1e-9));
}
