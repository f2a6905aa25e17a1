/**
 * Two of kube-controller-manager's controllers, which the API server runs on a timer until Sandpod has a controller
 * manager: the namespace controller (a terminating namespace is emptied, then removed) and the pod garbage
 * collector (terminating pods whose node is gone). They read the watch cache: a pass over a cluster where nothing
 * terminates reads nothing from etcd, and a namespace's contents are listed only while it terminates.
 */
import { isRecord } from '../kube/index.js';
import { allItems } from './paging.js';
import type { Registry } from './registry.js';
import { storedResources } from './resources/index.js';
import { namespaces } from './resources/namespaces.js';
import { nodes } from './resources/nodes.js';
import { pods } from './resources/pods.js';

const everything = { labels: [], fields: [] };

/** One pass of the namespace controller: deletes what terminating namespaces hold, and removes the empty ones. */
export async function finalizeNamespaces(registry: Registry): Promise<string[]> {
  const removed: string[] = [];
  for (const ns of (await registry.listAll(namespaces)).filter((n) => n.metadata.deletionTimestamp)) {
    const name = ns.metadata.name ?? '';
    let remaining = 0;
    for (const def of storedResources.filter((r) => r.namespaced)) {
      const { items } = await registry.list({ def, namespace: name }, everything, allItems);
      remaining += items.length;
      for (const obj of items) {
        if (obj.metadata.deletionTimestamp) continue;
        await registry.delete({ def, namespace: name }, obj.metadata.name ?? '', {}).catch(() => undefined);
      }
    }
    if (remaining === 0 && (await registry.remove({ def: namespaces }, ns))) removed.push(name);
  }
  return removed;
}

/** One pass of the pod garbage collector: a terminating pod whose node no longer exists cannot be confirmed, so it goes. */
export async function collectOrphanPods(registry: Registry): Promise<string[]> {
  const terminating = (await registry.listAll(pods)).filter((p) => p.metadata.deletionTimestamp && isRecord(p['spec']) && p['spec']['nodeName']);
  if (terminating.length === 0) return [];
  const nodeNames = new Set((await registry.listAll(nodes)).map((n) => n.metadata.name));
  const collected: string[] = [];
  for (const p of terminating) {
    if (nodeNames.has(String((p['spec'] as Record<string, unknown>)['nodeName']))) continue;
    if (await registry.remove({ def: pods, namespace: p.metadata.namespace ?? '' }, p)) collected.push(`${p.metadata.namespace ?? ''}/${p.metadata.name ?? ''}`);
  }
  return collected;
}
