/**
 * Node lifecycle, the part kube-controller-manager does for heartbeats: a node that heartbeats through a Lease in
 * kube-node-lease and has not renewed it within the grace period is marked Ready=Unknown and tainted unreachable,
 * so the scheduler stops placing pods there. Nodes without a Lease are left as their status says.
 */
import { isRecord, type KubeObject } from '../kube/index.js';
import type { Registry } from './registry.js';
import { leases } from './resources/leases.js';
import { nodes } from './resources/nodes.js';

export const unreachableTaint = { key: 'node.kubernetes.io/unreachable', effect: 'NoSchedule' };
export const nodeMonitorGraceMs = 40_000;

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (isRecord(v) ? v : {});

/** When the node last heartbeat through its Lease, or undefined when it has none. */
function lastRenewal(lease: KubeObject | undefined): number | undefined {
  const t = obj(lease?.['spec'])['renewTime'];
  return typeof t === 'string' ? Date.parse(t) : undefined;
}

/** One pass: marks nodes whose Lease expired. */
export async function markSilentNodes(registry: Registry, now: Date, graceMs = nodeMonitorGraceMs): Promise<string[]> {
  const marked: string[] = [];
  const { items } = await registry.list({ def: nodes }, { labels: [], fields: [] });
  for (const node of items) {
    const name = node.metadata.name ?? '';
    const renewed = lastRenewal(await registry.tryGet({ def: leases, namespace: 'kube-node-lease' }, name));
    if (renewed === undefined || now.getTime() - renewed <= graceMs) continue;
    const conditions = Array.isArray(obj(node['status'])['conditions']) ? (obj(node['status'])['conditions'] as Obj[]) : [];
    if (conditions.find((c) => c['type'] === 'Ready')?.['status'] === 'Unknown') continue;
    const stamp = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
    await registry.mutate({ def: nodes }, name, { fieldValidation: 'Ignore', dryRun: false }, 'status', (n) => {
      const status = obj(n['status']);
      const others = (Array.isArray(status['conditions']) ? (status['conditions'] as Obj[]) : []).filter((c) => c['type'] !== 'Ready');
      n['status'] = {
        ...status,
        conditions: [...others, { type: 'Ready', status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.', lastHeartbeatTime: new Date(renewed).toISOString().replace(/\.\d{3}Z$/, 'Z'), lastTransitionTime: stamp }],
      };
      return n;
    });
    await registry.mutate({ def: nodes }, name, { fieldValidation: 'Ignore', dryRun: false }, undefined, (n) => {
      const spec = obj(n['spec']);
      const taints = Array.isArray(spec['taints']) ? (spec['taints'] as Obj[]) : [];
      if (!taints.some((t) => t['key'] === unreachableTaint.key)) n['spec'] = { ...spec, taints: [...taints, { ...unreachableTaint, timeAdded: stamp }] };
      return n;
    });
    marked.push(name);
  }
  return marked;
}
