/**
 * The node's resource usage, as kubelet's Summary API carries it to metrics-server: each running container's CPU
 * rate and memory working set from CRI, the node's from /proc, and for a VM pod what its QEMU and shim cost the
 * host, sampled every 10 s and served at /stats/summary. It owns the sampling, the rates and the /proc reading;
 * it must not talk to the API server (the API server asks the node) nor decide what a pod's limits are.
 */
import type { StatsSummary } from '../../kube/index.js';

export { STATS_SUMMARY_PATH } from '../../kube/index.js';

/** Answers the node's Summary from the samples taken so far. */
export interface StatsSummarySource {
  summary(): StatsSummary;
}

export { StatsSampler, DEFAULT_SAMPLE_INTERVAL_MS, type StatsSamplerOptions } from './sampler.js';
export { hostProcFs, type ProcFs } from './proc.js';
