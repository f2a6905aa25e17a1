/** What this machine offers the nodes of its clusters: CPUs, memory, and the most nodes it can carry. */
import { cpus, totalmem } from 'node:os';

export interface Machine {
  cpus: number;
  memoryBytes: number;
  /** The most nodes one cluster may have here. */
  maxNodes: number;
}

/**
 * An idle node (containerd + node agent) costs about 52 MiB PSS (bench/cluster measures it); a node that runs
 * anything needs more. A cluster may have one node per 256 MiB of this machine's memory beyond 2 GiB, at most 100
 * (the node network is a /24, and more would not be useful on one machine).
 */
export const NODE_MEMORY_BUDGET = 256 * 2 ** 20;
export const MAX_NODES = 100;

export function machineFacts(memoryBytes = totalmem(), cpuCount = cpus().length): Machine {
  const maxNodes = Math.max(1, Math.min(MAX_NODES, Math.floor((memoryBytes - 2 * 2 ** 30) / NODE_MEMORY_BUDGET)));
  return { cpus: cpuCount, memoryBytes, maxNodes };
}
