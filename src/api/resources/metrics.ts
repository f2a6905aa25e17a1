/**
 * metrics.k8s.io/v1beta1 NodeMetrics and PodMetrics, the resource metrics API `kubectl top` reads: computed
 * from the node agents' usage on request (src/api/metrics.ts), never stored. Names, scope, verbs and table
 * columns are metrics-server's (singular names empty, get and list only; Name, cpu, memory, Window).
 */
import { z } from 'zod';
import { formatBytes, formatNanoCores, parseQuantity, type KubeObject } from '../../kube/index.js';
import { at, nameColumn, objectSchema, type Column, type ResourceDef } from './resource.js';

export const METRICS_GROUP = 'metrics.k8s.io';
export const METRICS_VERSION = 'v1beta1';

const usage = z.strictObject({ cpu: z.string(), memory: z.string() });
const measured = { timestamp: z.string(), window: z.string() };

export interface Usage { cpu: string; memory: string }

/** The sum of usages, written the way each is: nanocores and bytes. */
export function addUsage(usages: Usage[]): Usage {
  const sum = (key: keyof Usage, scale: number): number => usages.reduce((a, u) => a + Math.round((parseQuantity(u[key]) ?? 0) * scale), 0);
  return { cpu: formatNanoCores(sum('cpu', 1e9)), memory: formatBytes(sum('memory', 1)) };
}

const podUsage = (o: KubeObject): Usage => addUsage(((at(o, 'containers') ?? []) as Array<{ usage: Usage }>).map((c) => c.usage));
const nodeUsage = (o: KubeObject): Usage => (at(o, 'usage') ?? { cpu: '0', memory: '0' }) as Usage;

function usageColumns(usageOf: (o: KubeObject) => Usage): Column[] {
  return [
    nameColumn,
    { name: 'cpu', type: 'string', priority: 0, description: 'CPU in use, averaged over the window', cell: (o) => usageOf(o).cpu },
    { name: 'memory', type: 'string', priority: 0, description: 'Memory working set', cell: (o) => usageOf(o).memory },
    { name: 'Window', type: 'string', priority: 0, description: 'The interval the CPU use is averaged over', cell: (o) => String(at(o, 'window') ?? '') },
  ];
}

const metricsResource: Pick<ResourceDef, 'group' | 'version' | 'singular' | 'shortNames' | 'categories' | 'subresources' | 'computed' | 'hasStatus' | 'validate'> = {
  group: METRICS_GROUP, version: METRICS_VERSION, singular: '', shortNames: [], categories: [], subresources: [], computed: true, hasStatus: false, validate: () => [],
};

export const nodeMetrics: ResourceDef = {
  ...metricsResource,
  kind: 'NodeMetrics', plural: 'nodes', namespaced: false,
  schema: objectSchema({ ...measured, usage }),
  columns: usageColumns(nodeUsage),
};

export const podMetrics: ResourceDef = {
  ...metricsResource,
  kind: 'PodMetrics', plural: 'pods', namespaced: true,
  schema: objectSchema({ ...measured, containers: z.array(z.strictObject({ name: z.string(), usage })) }),
  columns: usageColumns(podUsage),
};

/** kube-apiserver names these as metrics-server registers them, in messages such as NotFound. */
export const nodeMetricsName = { group: METRICS_GROUP, plural: 'nodemetrics' } as const;
export const podMetricsName = { group: METRICS_GROUP, plural: 'podmetrics' } as const;
