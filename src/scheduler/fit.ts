/**
 * Which nodes can run a pod, kube-scheduler style: filters run in its order (unschedulable, taints, node
 * affinity/selector, resources) and the first that fails names the node's reason; the FailedScheduling message
 * counts reasons across nodes ("0/3 nodes are available: 2 node(s) didn't match Pod's node affinity/selector, 1 Insufficient memory.").
 */
import {
  addResources, isRecord, labelSelectorRequirements, matchesLabels, parseResourceList,
  type KubeObject, type ResourceList,
} from '../kube/index.js';

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (isRecord(v) ? v : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

interface Taint { key: string; value?: string; effect: string }
interface Toleration { key?: string; operator?: string; value?: string; effect?: string }

/** What the pod asks for: the larger of its containers' sum and its biggest init container, plus overhead. */
export function podRequests(pod: KubeObject): ResourceList {
  const spec = obj(pod['spec']);
  const req = (c: unknown): ResourceList => parseResourceList(obj(obj(c)['resources'])['requests']);
  const sum = addResources(...arr(spec['containers']).map(req));
  for (const ic of arr(spec['initContainers']).map(req)) {
    for (const [k, v] of Object.entries(ic)) sum[k] = Math.max(sum[k] ?? 0, v);
  }
  return addResources(sum, parseResourceList(spec['overhead']), { pods: 1 });
}

const tolerates = (t: Toleration, taint: Taint): boolean => {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.operator === 'Exists') return !t.key || t.key === taint.key;
  return t.key === taint.key && (t.value ?? '') === (taint.value ?? '');
};

export function nodeTaints(node: KubeObject): Taint[] {
  const taints = arr(obj(node['spec'])['taints']) as Taint[];
  const ready = arr(obj(node['status'])['conditions']).find((c) => obj(c)['type'] === 'Ready');
  if (obj(ready)['status'] !== 'True') taints.push({ key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' });
  return taints;
}

/** Whether a node selector term (matchExpressions on labels, matchFields on metadata.name) matches the node. */
function termMatches(term: unknown, node: KubeObject): boolean {
  const exprs = arr(obj(term)['matchExpressions']);
  const fields = arr(obj(term)['matchFields']);
  if (exprs.length === 0 && fields.length === 0) return false;
  const fieldOk = labelSelectorRequirements({ matchExpressions: fields }).every((r) =>
    r.key !== 'metadata.name' || matchesLabels([{ ...r, key: 'n' }], { n: node.metadata.name ?? '' }));
  return fieldOk && matchesLabels(labelSelectorRequirements({ matchExpressions: exprs }), node.metadata.labels ?? {});
}

/** The sum of the weights of the pod's preferred node affinity terms that the node matches. */
export function preferenceScore(pod: KubeObject, node: KubeObject): number {
  const preferred = arr(obj(obj(obj(pod['spec'])['affinity'])['nodeAffinity'])['preferredDuringSchedulingIgnoredDuringExecution']);
  return preferred.reduce<number>((sum, p) => sum + (termMatches(obj(p)['preference'], node) ? Number(obj(p)['weight'] ?? 0) : 0), 0);
}

function matchesAffinity(pod: KubeObject, node: KubeObject): boolean {
  const spec = obj(pod['spec']);
  const labels = node.metadata.labels ?? {};
  const selector = obj(spec['nodeSelector']) as Record<string, string>;
  if (!Object.entries(selector).every(([k, v]) => labels[k] === v)) return false;
  const required = obj(obj(obj(spec['affinity'])['nodeAffinity'])['requiredDuringSchedulingIgnoredDuringExecution']);
  const terms = arr(required['nodeSelectorTerms']);
  if (terms.length === 0) return true;
  return terms.some((term) => termMatches(term, node));
}

/** Why the node cannot take the pod (empty when it can), given what is already bound to it. */
export function unfitReasons(pod: KubeObject, node: KubeObject, used: ResourceList): string[] {
  const spec = obj(pod['spec']);
  if (obj(node['spec'])['unschedulable'] === true) return ['node(s) were unschedulable'];
  const tolerations = arr(spec['tolerations']) as Toleration[];
  const untolerated = nodeTaints(node).find((t) => (t.effect === 'NoSchedule' || t.effect === 'NoExecute') && !tolerations.some((tol) => tolerates(tol, t)));
  if (untolerated) return [`node(s) had untolerated taint {${untolerated.key}: ${untolerated.value ?? ''}}`];
  if (!matchesAffinity(pod, node)) return ["node(s) didn't match Pod's node affinity/selector"];
  const allocatable: ResourceList = { pods: 110, ...parseResourceList(obj(node['status'])['allocatable']) };
  const want = podRequests(pod);
  const reasons: string[] = [];
  for (const [name, amount] of Object.entries(want)) {
    if (amount <= 0) continue;
    const free = (allocatable[name] ?? 0) - (used[name] ?? 0);
    if (amount > free) reasons.push(name === 'pods' ? 'Too many pods' : `Insufficient ${name}`);
  }
  return reasons;
}

export interface Placement {
  node?: string;
  /** The FailedScheduling message when no node fits. */
  message?: string;
}

/** Resources used on each node by the pods bound to it that still run. */
export function usageByNode(pods: Iterable<KubeObject>): Map<string, ResourceList> {
  const out = new Map<string, ResourceList>();
  for (const p of pods) {
    const nodeName = obj(p['spec'])['nodeName'];
    const phase = obj(p['status'])['phase'];
    if (typeof nodeName !== 'string' || nodeName === '' || phase === 'Succeeded' || phase === 'Failed') continue;
    out.set(nodeName, addResources(out.get(nodeName) ?? {}, podRequests(p)));
  }
  return out;
}

/**
 * Picks the feasible node that best matches the pod's preferred node affinity, then has the most free memory
 * (then CPU, then name), or explains why none fits.
 */
export function place(pod: KubeObject, nodes: KubeObject[], usage: Map<string, ResourceList>): Placement {
  const histogram = new Map<string, number>();
  const feasible: Array<{ name: string; score: number; freeMem: number; freeCpu: number }> = [];
  for (const node of nodes) {
    const name = node.metadata.name ?? '';
    const used = usage.get(name) ?? {};
    const reasons = unfitReasons(pod, node, used);
    if (reasons.length === 0) {
      const alloc = parseResourceList(obj(node['status'])['allocatable']);
      feasible.push({ name, score: preferenceScore(pod, node), freeMem: (alloc['memory'] ?? 0) - (used['memory'] ?? 0), freeCpu: (alloc['cpu'] ?? 0) - (used['cpu'] ?? 0) });
    }
    for (const r of reasons) histogram.set(r, (histogram.get(r) ?? 0) + 1);
  }
  if (feasible.length > 0) {
    feasible.sort((a, b) => b.score - a.score || b.freeMem - a.freeMem || b.freeCpu - a.freeCpu || a.name.localeCompare(b.name));
    return { node: feasible[0]!.name };
  }
  const parts = [...histogram].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([r, n]) => `${n} ${r}`);
  const message = nodes.length === 0 ? 'no nodes available to schedule pods' : `0/${nodes.length} nodes are available: ${parts.join(', ')}.${missingLabelsHint(pod, nodes)}`;
  return { message };
}

/**
 * What no node offers of the pod's node selector, said plainly: a selector no node can match will never be met by
 * waiting (a RuntimeClass's selector means no node pool runs that runtime).
 */
function missingLabelsHint(pod: KubeObject, nodes: KubeObject[]): string {
  const spec = obj(pod['spec']);
  const selector = obj(spec['nodeSelector']) as Record<string, string>;
  const missing = Object.entries(selector).filter(([k, v]) => !nodes.some((n) => (n.metadata.labels ?? {})[k] === v)).map(([k, v]) => `${k}=${v}`);
  if (missing.length === 0) return '';
  const rc = typeof spec['runtimeClassName'] === 'string' ? spec['runtimeClassName'] : undefined;
  return ` No node has the label ${missing.join(', ')}${rc ? `, which RuntimeClass ${rc} selects: no node pool runs that runtime; add one that does (e.g. sandpod nodepool add --workload-runtime KataVmIsolation --os-sku AzureLinux)` : ''}.`;
}
