/**
 * Node lifecycle, the part kube-controller-manager does for heartbeats and conditions: a Ready node that heartbeats
 * through a Lease in kube-node-lease and has not renewed it within the grace period is marked Ready=Unknown; and
 * each node carries the taint of its Ready condition, as the controller's TaintNodesByCondition keeps it —
 * `node.kubernetes.io/unreachable` while Unknown, `node.kubernetes.io/not-ready` while False (a node agent stopped
 * cleanly says so), neither once the node is Ready again. A node without a Lease is left as its status says.
 */
import { isRecord, type KubeObject } from '../kube/index.js';
import type { Registry } from './registry.js';
import { leases } from './resources/leases.js';
import { nodes } from './resources/nodes.js';

export const unreachableTaint = { key: 'node.kubernetes.io/unreachable', effect: 'NoSchedule' };
export const notReadyTaint = { key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' };
export const nodeMonitorGraceMs = 40_000;

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (isRecord(v) ? v : {});
const kubeStamp = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** When the node last heartbeat through its Lease, or undefined when it has none. */
function lastRenewal(lease: KubeObject | undefined): number | undefined {
  const t = obj(lease?.['spec'])['renewTime'];
  return typeof t === 'string' ? Date.parse(t) : undefined;
}

const readyStatus = (node: KubeObject): unknown => {
  const conditions = obj(node['status'])['conditions'];
  return Array.isArray(conditions) ? obj(conditions.find((c) => obj(c)['type'] === 'Ready'))['status'] : undefined;
};

/** The condition taint a node should carry for its Ready status (none when Ready or unknown to us). */
const conditionTaint = (ready: unknown): typeof unreachableTaint | undefined =>
  ready === 'Unknown' ? unreachableTaint : ready === 'False' ? notReadyTaint : undefined;

export interface NodeLifecycleChange { node: string; change: string }

/** One pass over the nodes: marks those whose Lease expired, then gives each the taint of its Ready condition. */
export async function syncNodeLifecycle(registry: Registry, now: Date, graceMs = nodeMonitorGraceMs): Promise<NodeLifecycleChange[]> {
  const changes: NodeLifecycleChange[] = [];
  const write = { fieldValidation: 'Ignore' as const, dryRun: false };
  const { items } = await registry.list({ def: nodes }, { labels: [], fields: [] });
  for (const node of items) {
    const name = node.metadata.name ?? '';
    let ready = readyStatus(node);
    const renewed = lastRenewal(await registry.tryGet({ def: leases, namespace: 'kube-node-lease' }, name));
    if (renewed !== undefined && ready === 'True' && now.getTime() - renewed > graceMs) {
      await registry.mutate({ def: nodes }, name, write, 'status', (n) => {
        const status = obj(n['status']);
        const others = (Array.isArray(status['conditions']) ? (status['conditions'] as Obj[]) : []).filter((c) => c['type'] !== 'Ready');
        n['status'] = {
          ...status,
          conditions: [...others, { type: 'Ready', status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.', lastHeartbeatTime: kubeStamp(new Date(renewed)), lastTransitionTime: kubeStamp(now) }],
        };
        return n;
      });
      ready = 'Unknown';
      changes.push({ node: name, change: 'stopped heartbeating; marked Ready=Unknown' });
    }
    const want = conditionTaint(ready);
    const taints = Array.isArray(obj(node['spec'])['taints']) ? (obj(node['spec'])['taints'] as Obj[]) : [];
    const managed = [unreachableTaint.key, notReadyTaint.key];
    const stale = taints.filter((t) => managed.includes(String(t['key'])) && t['key'] !== want?.key);
    const missing = want !== undefined && !taints.some((t) => t['key'] === want.key);
    if (stale.length === 0 && !missing) continue;
    await registry.mutate({ def: nodes }, name, write, undefined, (n) => {
      const spec = obj(n['spec']);
      const current = (Array.isArray(spec['taints']) ? (spec['taints'] as Obj[]) : []).filter((t) => !managed.includes(String(t['key'])) || t['key'] === want?.key);
      const next = want && !current.some((t) => t['key'] === want.key) ? [...current, { ...want, timeAdded: kubeStamp(now) }] : current;
      n['spec'] = { ...spec, taints: next };
      return n;
    });
    for (const t of stale) changes.push({ node: name, change: `removed taint ${String(t['key'])} (Ready=${String(ready)})` });
    if (missing) changes.push({ node: name, change: `added taint ${want.key} (Ready=${String(ready)})` });
  }
  return changes;
}
