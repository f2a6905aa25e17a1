/**
 * What a namespace can hold, read from the API's discovery documents as kube's namespace controller reads it: every
 * namespaced resource (not a subresource) that can be listed and deleted, in the preferred version of its group.
 */
import { isRecord, type KubeApi } from '../kube/index.js';

/** A namespaced resource: its collection in a namespace is `${groupVersion}/namespaces/<ns>/${plural}`. */
export interface NamespacedResource {
  /** `/api/v1` or `/apis/<group>/<version>`. */
  groupVersion: string;
  plural: string;
}

const records = (v: unknown): Record<string, unknown>[] => (Array.isArray(v) ? v.filter(isRecord) : []);

function deletable(list: unknown, groupVersion: string): NamespacedResource[] {
  const out: NamespacedResource[] = [];
  for (const r of records(isRecord(list) ? list['resources'] : undefined)) {
    const name = String(r['name'] ?? '');
    const verbs = Array.isArray(r['verbs']) ? r['verbs'] : [];
    if (name === '' || name.includes('/') || r['namespaced'] !== true || !verbs.includes('list') || !verbs.includes('delete')) continue;
    out.push({ groupVersion, plural: name });
  }
  return out;
}

export async function namespacedResources(api: Pick<KubeApi, 'call'>): Promise<NamespacedResource[]> {
  const found = deletable(await api.call('GET', '/api/v1'), '/api/v1');
  const groups = records((await api.call<Record<string, unknown>>('GET', '/apis'))['groups']);
  for (const g of groups) {
    const preferred = isRecord(g['preferredVersion']) ? g['preferredVersion']['groupVersion'] : records(g['versions'])[0]?.['groupVersion'];
    if (typeof preferred !== 'string') continue;
    found.push(...deletable(await api.call('GET', `/apis/${preferred}`), `/apis/${preferred}`));
  }
  return found;
}
