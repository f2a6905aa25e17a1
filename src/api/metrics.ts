/**
 * metrics.k8s.io/v1beta1 computed on request, in the shapes metrics-server answers: the pods or nodes asked for
 * are listed from the registry, each node they are on is asked for its Summary (its node agent's samples and
 * rates), and each pod or node with usage becomes a PodMetrics or NodeMetrics. A VM pod's PodMetrics also
 * carries what its QEMU and shim cost the host, in annotations. Transport-free: the node agents are reached
 * through a NodeStatsSource.
 */
import {
  formatBytes, formatDuration, formatNanoCores, isRecord, kubeTime,
  type KubeObject, type NodeStatsSummary, type PodStatsSummary, type StatsSummary,
} from '../kube/index.js';
import type { Logger } from '../log.js';
import type { ComputedList, ComputedResource } from './computed.js';
import type { Registry, Scope, Selectors } from './registry.js';
import { METRICS_GROUP, METRICS_VERSION, nodeMetrics, nodeMetricsName, podMetrics, podMetricsName } from './resources/metrics.js';
import { nodes } from './resources/nodes.js';
import { pods } from './resources/pods.js';
import { apiVersionOf, at, type ResourceDef } from './resources/resource.js';
import { notFoundError, statusFor } from './status.js';

/** The annotations on a VM pod's PodMetrics: its QEMU and shim processes on the host, together. */
export const VM_HOST_ANNOTATION = {
  /** CPU rate, in nanocores like `usage.cpu`. */
  cpu: 'sandpod.io/vm-host-cpu',
  /** Proportional set size (shared pages divided among their users), like `usage.memory` a byte quantity. */
  memory: 'sandpod.io/vm-host-memory',
  /** Resident set size: counts pages shared with other VMs (template memory, libraries) in full. */
  memoryRss: 'sandpod.io/vm-host-memory-rss',
  /** Which processes were measured: `qemu=<pid>,shim=<pid>`. */
  processes: 'sandpod.io/vm-host-processes',
} as const;

export interface NodeStatsSource {
  /** The node's Summary from its node agent; fails with a SandpodError that names the node. */
  summary(node: KubeObject): Promise<StatsSummary>;
}

export type ObjectReader = Pick<Registry, 'get' | 'list'>;

const apiVersion = apiVersionOf({ group: METRICS_GROUP, version: METRICS_VERSION });
const seconds = (iso: string): string => kubeTime(new Date(iso));
const window = (windowSeconds: number): string => formatDuration(windowSeconds * 1e9);
const labelsOf = (o: KubeObject): { labels?: Record<string, string> } => (o.metadata.labels ? { labels: o.metadata.labels } : {});

/** A NodeMetrics, as metrics-server builds it, or undefined while the node has no CPU rate yet. */
export function nodeMetricsOf(node: KubeObject, stats: NodeStatsSummary, now: Date): KubeObject | undefined {
  const { cpu, memory } = stats;
  if (cpu?.usageNanoCores === undefined || cpu.windowSeconds === undefined || memory?.workingSetBytes === undefined) return undefined;
  return {
    kind: nodeMetrics.kind, apiVersion,
    metadata: { name: node.metadata.name ?? '', creationTimestamp: kubeTime(now), ...labelsOf(node) },
    timestamp: seconds(cpu.time),
    window: window(cpu.windowSeconds),
    usage: { cpu: formatNanoCores(cpu.usageNanoCores), memory: formatBytes(memory.workingSetBytes) },
  };
}

function vmHostAnnotations(vm: PodStatsSummary['vm']): Record<string, string> | undefined {
  if (vm?.cpu?.usageNanoCores === undefined || vm.memory?.pssBytes === undefined) return undefined;
  return {
    [VM_HOST_ANNOTATION.cpu]: formatNanoCores(vm.cpu.usageNanoCores),
    [VM_HOST_ANNOTATION.memory]: formatBytes(vm.memory.pssBytes),
    ...(vm.memory.rssBytes !== undefined ? { [VM_HOST_ANNOTATION.memoryRss]: formatBytes(vm.memory.rssBytes) } : {}),
    [VM_HOST_ANNOTATION.processes]: vm.processes.map((p) => `${p.role}=${p.pid}`).join(','),
  };
}

/**
 * A PodMetrics, as metrics-server builds it: every container the node measured must have a CPU rate, or the
 * pod has no metrics yet; timestamp and window are those of the container measured earliest. The stats must be
 * of this pod (same uid), not of an earlier pod of the same name.
 */
export function podMetricsOf(pod: KubeObject, stats: PodStatsSummary, now: Date): KubeObject | undefined {
  if (stats.podRef.uid !== pod.metadata.uid) return undefined;
  const measured = stats.containers.map((c) => ({ name: c.name, cpu: c.cpu, memory: c.memory }));
  if (measured.length === 0) return undefined;
  const rated: Array<{ name: string; time: string; windowSeconds: number; nanoCores: number; workingSet: number }> = [];
  for (const c of measured) {
    if (c.cpu?.usageNanoCores === undefined || c.cpu.windowSeconds === undefined || c.memory?.workingSetBytes === undefined) return undefined;
    rated.push({ name: c.name, time: c.cpu.time, windowSeconds: c.cpu.windowSeconds, nanoCores: c.cpu.usageNanoCores, workingSet: c.memory.workingSetBytes });
  }
  const earliest = rated.reduce((a, c) => (Date.parse(c.time) < Date.parse(a.time) ? c : a));
  const order = ((at(pod, 'spec', 'containers') ?? []) as Array<{ name?: string }>).map((c) => c.name);
  const position = (name: string): number => (order.includes(name) ? order.indexOf(name) : order.length);
  const annotations = vmHostAnnotations(stats.vm);
  return {
    kind: podMetrics.kind, apiVersion,
    metadata: {
      name: pod.metadata.name ?? '', namespace: pod.metadata.namespace ?? '', creationTimestamp: kubeTime(now), ...labelsOf(pod),
      ...(annotations ? { annotations } : {}),
    },
    timestamp: seconds(earliest.time),
    window: window(earliest.windowSeconds),
    containers: rated.sort((a, b) => position(a.name) - position(b.name))
      .map((c) => ({ name: c.name, usage: { cpu: formatNanoCores(c.nanoCores), memory: formatBytes(c.workingSet) } })),
  };
}

const listOf = (def: ResourceDef, items: KubeObject[]): ComputedList => ({ apiVersion, kind: `${def.kind}List`, metadata: {}, items });

const byNamespaceAndName = (a: KubeObject, b: KubeObject): number =>
  (a.metadata.namespace ?? '').localeCompare(b.metadata.namespace ?? '') || (a.metadata.name ?? '').localeCompare(b.metadata.name ?? '');

/** The two metrics resources, reading pods and nodes from `objects` and usage from the node agents. */
export function metricsResources(objects: ObjectReader, source: NodeStatsSource, log: Logger, now: () => Date = () => new Date()): ComputedResource[] {
  /**
   * Each node's Summary, asked in parallel. A node that cannot answer is left out of a list (as metrics-server
   * leaves out nodes it could not scrape) and logged; `strict` makes its failure the answer instead.
   */
  const summaries = async (nodeObjects: KubeObject[], strict: boolean): Promise<Map<string, StatsSummary>> => {
    const answers = await Promise.allSettled(nodeObjects.map(async (n) => [n.metadata.name ?? '', await source.summary(n)] as const));
    const out = new Map<string, StatsSummary>();
    for (const [i, a] of answers.entries()) {
      if (a.status === 'fulfilled') out.set(...a.value);
      else if (strict) throw a.reason;
      else log.warn('a node\'s resource usage is left out of metrics.k8s.io', { node: nodeObjects[i]?.metadata.name, err: statusFor(a.reason).message });
    }
    return out;
  };

  const measureNodes = async (nodeObjects: KubeObject[], strict: boolean): Promise<KubeObject[]> => {
    const stats = await summaries(nodeObjects, strict);
    return nodeObjects.flatMap((n) => {
      const s = stats.get(n.metadata.name ?? '');
      const m = s ? nodeMetricsOf(n, s.node, now()) : undefined;
      return m ? [m] : [];
    }).sort(byNamespaceAndName);
  };

  const measurePods = async (podObjects: KubeObject[], strict: boolean): Promise<KubeObject[]> => {
    const nodeNames = [...new Set(podObjects.map((p) => at(p, 'spec', 'nodeName')).filter((n): n is string => typeof n === 'string' && n !== ''))];
    const nodeObjects = (await Promise.all(nodeNames.map((n) => objects.get({ def: nodes }, n).catch((err: unknown) => {
      if (strict) throw err;
      return undefined;
    })))).filter((n): n is KubeObject => n !== undefined);
    const stats = await summaries(nodeObjects, strict);
    return podObjects.flatMap((p) => {
      const summary = stats.get(String(at(p, 'spec', 'nodeName')));
      const podStats = summary?.pods.find((s) => s.podRef.namespace === p.metadata.namespace && s.podRef.name === p.metadata.name && s.podRef.uid === p.metadata.uid);
      const m = podStats ? podMetricsOf(p, podStats, now()) : undefined;
      return m ? [m] : [];
    }).sort(byNamespaceAndName);
  };

  const nodeResource: ComputedResource = {
    def: nodeMetrics,
    get: async (_scope: Scope, name: string) => {
      const [m] = await measureNodes([await objects.get({ def: nodes }, name)], true);
      if (!m) throw notFoundError(nodeMetricsName, name);
      return m;
    },
    list: async (_scope: Scope, selectors: Selectors) => listOf(nodeMetrics, await measureNodes((await objects.list({ def: nodes }, selectors)).items, false)),
  };

  const podResource: ComputedResource = {
    def: podMetrics,
    get: async (scope: Scope, name: string) => {
      const pod = await objects.get({ def: pods, namespace: scope.namespace ?? '' }, name);
      const [m] = await measurePods([pod], isRecord(pod['spec']) && typeof pod['spec']['nodeName'] === 'string');
      if (!m) throw notFoundError(podMetricsName, `${scope.namespace ?? ''}/${name}`);
      return m;
    },
    list: async (scope: Scope, selectors: Selectors) =>
      listOf(podMetrics, await measurePods((await objects.list({ def: pods, ...(scope.namespace !== undefined ? { namespace: scope.namespace } : {}) }, selectors)).items, false)),
  };

  return [nodeResource, podResource];
}
