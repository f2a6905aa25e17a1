/**
 * Node lifecycle, the part kube-controller-manager does for heartbeats and conditions: a Ready node that heartbeats
 * through a Lease in kube-node-lease and has not renewed it within the grace period is marked Ready=Unknown; and
 * each node carries the taint of its Ready condition, as the controller's TaintNodesByCondition keeps it —
 * `node.kubernetes.io/unreachable` while Unknown, `node.kubernetes.io/not-ready` while False (a node agent stopped
 * cleanly says so), neither once the node is Ready again. A node without a Lease is left as its status says.
 *
 * Watch-driven: a node is looked at when it or its Lease changes, and again when its Lease would expire.
 */
import { invalid, isSandpodError } from '../errors.js';
import type { Logger } from '../log.js';
import { Informer, isRecord, kubeTime, type KubeApi, type KubeObject } from '../kube/index.js';
import { QueueController } from './controller.js';

const unreachableTaint = { key: 'node.kubernetes.io/unreachable', effect: 'NoSchedule' };
const notReadyTaint = { key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' };
const defaultGraceMs = 40_000;

/**
 * kube-controller-manager's --node-monitor-grace-period: how old a node's Lease may get before the node is marked
 * unreachable. 40 s unless SANDPOD_NODE_MONITOR_GRACE_SECONDS (in `sandpod up`'s environment) says otherwise; it
 * must leave room for a renewal every 10 s and one late.
 */
export function nodeMonitorGraceMs(env: NodeJS.ProcessEnv): number | undefined {
  const text = env['SANDPOD_NODE_MONITOR_GRACE_SECONDS'];
  if (text === undefined || text === '') return undefined;
  const seconds = Number(text);
  if (!Number.isInteger(seconds) || seconds < 20 || seconds > 3600) {
    throw invalid('controller-manager', `SANDPOD_NODE_MONITOR_GRACE_SECONDS is "${text}": give whole seconds from 20 (two Lease renewals) to 3600, or unset it for 40`);
  }
  return seconds * 1000;
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (isRecord(v) ? v : {});
const managedTaints = [unreachableTaint.key, notReadyTaint.key];

/** When the node last heartbeat through its Lease, or undefined when it has none. */
function lastRenewal(lease: KubeObject | undefined): number | undefined {
  const t = obj(lease?.['spec'])['renewTime'];
  return typeof t === 'string' ? Date.parse(t) : undefined;
}

const conditionsOf = (node: KubeObject): Obj[] => {
  const conditions = obj(node['status'])['conditions'];
  return Array.isArray(conditions) ? conditions.map(obj) : [];
};

const readyStatus = (node: KubeObject): unknown => conditionsOf(node).find((c) => c['type'] === 'Ready')?.['status'];

/** The condition taint a node should carry for its Ready status (none when Ready or unknown to us). */
const conditionTaint = (ready: unknown): typeof unreachableTaint | undefined =>
  ready === 'Unknown' ? unreachableTaint : ready === 'False' ? notReadyTaint : undefined;

/** What one look at a node decided: the node to write (status, then taints), what changed, and when to look again. */
export interface NodeLifecyclePlan {
  /** The node with Ready=Unknown, to write through nodes/status. */
  status?: KubeObject;
  /** The node's taints as they should be, to write through the node. */
  taints?: Obj[];
  changes: string[];
  /** In how many milliseconds the node's Lease expires, when it is Ready and heartbeats. */
  recheckMs?: number;
}

/** Decides, without I/O, what node lifecycle does to `node` given its Lease at `now`. */
export function planNodeLifecycle(node: KubeObject, lease: KubeObject | undefined, now: Date, graceMs = defaultGraceMs): NodeLifecyclePlan {
  const plan: NodeLifecyclePlan = { changes: [] };
  let ready = readyStatus(node);
  const renewed = lastRenewal(lease);
  if (renewed !== undefined && ready === 'True') {
    const left = renewed + graceMs - now.getTime();
    if (left < 0) {
      const others = conditionsOf(node).filter((c) => c['type'] !== 'Ready');
      plan.status = {
        ...node,
        status: {
          ...obj(node['status']),
          conditions: [...others, { type: 'Ready', status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.', lastHeartbeatTime: kubeTime(new Date(renewed)), lastTransitionTime: kubeTime(now) }],
        },
      };
      ready = 'Unknown';
      plan.changes.push('stopped heartbeating; marked Ready=Unknown');
    } else plan.recheckMs = left + 1;
  }
  const want = conditionTaint(ready);
  const taints = Array.isArray(obj(node['spec'])['taints']) ? (obj(node['spec'])['taints'] as unknown[]).map(obj) : [];
  const stale = taints.filter((t) => managedTaints.includes(String(t['key'])) && t['key'] !== want?.key);
  const missing = want !== undefined && !taints.some((t) => t['key'] === want.key);
  if (stale.length === 0 && !missing) return plan;
  const kept = taints.filter((t) => !managedTaints.includes(String(t['key'])) || t['key'] === want?.key);
  plan.taints = missing ? [...kept, { ...want, timeAdded: kubeTime(now) }] : kept;
  for (const t of stale) plan.changes.push(`removed taint ${String(t['key'])} (Ready=${String(ready)})`);
  if (missing) plan.changes.push(`added taint ${want.key} (Ready=${String(ready)})`);
  return plan;
}

export interface NodeLifecycleOptions {
  log: Logger;
  /** How long a node's Lease may go unrenewed before the node is marked Ready=Unknown. */
  graceMs?: number;
  now?: () => Date;
}

const LEASES = '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases';

export class NodeLifecycleController extends QueueController {
  readonly name = 'node-lifecycle';
  private readonly nodes: Informer;
  private readonly leases: Informer;

  constructor(private readonly api: KubeApi, private readonly opts: NodeLifecycleOptions) {
    super(opts.log, 'node lifecycle sync failed');
    // A node's Lease has the node's name.
    this.nodes = new Informer(api, '/api/v1/nodes', (e) => { if (e.type !== 'DELETED') this.queue.add(e.object.metadata.name ?? ''); });
    this.leases = new Informer(api, LEASES, (e) => this.queue.add(e.object.metadata.name ?? ''));
    this.watch(this.leases, this.nodes);
  }

  protected async sync(name: string): Promise<number | undefined> {
    const node = this.nodes.cache.get(`/${name}`);
    if (!node) return undefined;
    const plan = planNodeLifecycle(node, this.leases.cache.get(`kube-node-lease/${name}`), this.opts.now?.() ?? new Date(), this.opts.graceMs);
    // Writes carry the cached resourceVersion: a node changed meanwhile is a Conflict, and its watch event syncs it again.
    try {
      let current = node;
      if (plan.status) current = await this.api.update(`/api/v1/nodes/${name}/status`, plan.status);
      if (plan.taints) await this.api.update(`/api/v1/nodes/${name}`, { ...current, spec: { ...obj(current['spec']), taints: plan.taints } });
    } catch (err) {
      if (isSandpodError(err, 'Conflict') || isSandpodError(err, 'NotFound')) return undefined;
      throw err;
    }
    for (const change of plan.changes) this.opts.log.warn(`node ${change}`, { node: name });
    return plan.recheckMs;
  }
}
