/**
 * A node agent's `/stats/summary` (docs/node-agent.md): the part of kubelet's Summary API
 * (k8s.io/kubelet/pkg/apis/stats/v1alpha1) that resource metrics need, with kubelet's field names, plus two
 * Sandpod extensions: `windowSeconds` on CPU stats (the interval `usageNanoCores` is averaged over, which
 * metrics.k8s.io reports as `window`) and `vm` on a VM pod (what its QEMU and shim processes cost the host).
 * The node agent writes it; the API server reads it through this schema, which ignores fields it does not know.
 */
import { z } from 'zod';

/** Where a node agent serves its Summary. */
export const STATS_SUMMARY_PATH = '/stats/summary';

const time = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'expected an RFC 3339 time');
const count = z.number().int().nonnegative();

export const cpuStatsSchema = z.object({
  time,
  /** Average over the last `windowSeconds`; absent until two samples exist. */
  usageNanoCores: count.optional(),
  /** Cumulative since the container (process, node) started. */
  usageCoreNanoSeconds: count.optional(),
  windowSeconds: z.number().positive().optional(),
});

export const memoryStatsSchema = z.object({
  time,
  workingSetBytes: count.optional(),
  usageBytes: count.optional(),
  availableBytes: count.optional(),
  rssBytes: count.optional(),
  /** Sandpod: a host process's proportional set size (shared pages divided among their users). */
  pssBytes: count.optional(),
});

export const containerStatsSchema = z.object({
  name: z.string(),
  startTime: time,
  cpu: cpuStatsSchema.optional(),
  memory: memoryStatsSchema.optional(),
});

export const vmProcessRoles = ['qemu', 'shim'] as const;

export const vmProcessStatsSchema = z.object({
  role: z.enum(vmProcessRoles),
  pid: count,
  cpu: cpuStatsSchema.optional(),
  memory: memoryStatsSchema.optional(),
});

/** Sandpod: a VM pod's host-side cost; `cpu` and `memory` are the sums over `processes`. */
export const vmHostStatsSchema = z.object({
  processes: z.array(vmProcessStatsSchema),
  cpu: cpuStatsSchema.optional(),
  memory: memoryStatsSchema.optional(),
});

export const podStatsSchema = z.object({
  podRef: z.object({ name: z.string(), namespace: z.string(), uid: z.string() }),
  startTime: time,
  containers: z.array(containerStatsSchema),
  vm: vmHostStatsSchema.optional(),
});

export const nodeStatsSchema = z.object({
  nodeName: z.string(),
  startTime: time,
  cpu: cpuStatsSchema.optional(),
  memory: memoryStatsSchema.optional(),
});

export const statsSummarySchema = z.object({
  node: nodeStatsSchema,
  pods: z.array(podStatsSchema),
});

export type CpuStats = z.infer<typeof cpuStatsSchema>;
export type MemoryStats = z.infer<typeof memoryStatsSchema>;
export type ContainerStatsSummary = z.infer<typeof containerStatsSchema>;
export type VmProcessRole = (typeof vmProcessRoles)[number];
export type VmProcessStats = z.infer<typeof vmProcessStatsSchema>;
export type VmHostStats = z.infer<typeof vmHostStatsSchema>;
export type PodStatsSummary = z.infer<typeof podStatsSchema>;
export type NodeStatsSummary = z.infer<typeof nodeStatsSchema>;
export type StatsSummary = z.infer<typeof statsSummarySchema>;
