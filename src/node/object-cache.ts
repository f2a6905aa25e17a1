/**
 * The ConfigMaps and Secrets the node's pods read, fetched from the API and kept for a short time, like
 * kubelet's TTL-based object manager: a change reaches a running pod's volumes within the TTL plus a sync, and
 * many pods reading one object cost one request per TTL. Entries nobody asked for in a while are dropped.
 */
import { isRecord, KubeApiError, type KubeClient } from '../kube/index.js';
import type { KeyedData } from './projection.js';

export type ObjectKind = 'configmaps' | 'secrets';

interface Entry { data: KeyedData; fetchedAt: number; usedAt: number }

const DEFAULT_TTL_MS = 20_000;
const IDLE_MS = 5 * 60_000;

function keyedData(kind: ObjectKind, obj: Record<string, unknown>): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  const data = isRecord(obj['data']) ? obj['data'] : {};
  for (const [k, v] of Object.entries(data)) if (typeof v === 'string') out[k] = kind === 'secrets' ? Buffer.from(v, 'base64') : Buffer.from(v, 'utf8');
  const binary = kind === 'configmaps' && isRecord(obj['binaryData']) ? obj['binaryData'] : {};
  for (const [k, v] of Object.entries(binary)) if (typeof v === 'string') out[k] = Buffer.from(v, 'base64');
  return out;
}

export class ObjectCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly client: KubeClient, private readonly ttlMs = DEFAULT_TTL_MS, private readonly now: () => number = Date.now) {}

  private key(kind: ObjectKind, namespace: string, name: string): string { return `${kind}/${namespace}/${name}`; }

  /** Fetches the named objects that are missing or older than the TTL; a failed fetch keeps the old copy. */
  async refresh(kind: ObjectKind, namespace: string, names: Iterable<string>): Promise<void> {
    const now = this.now();
    await Promise.all([...names].map(async (name) => {
      const key = this.key(kind, namespace, name);
      const e = this.entries.get(key);
      if (e && now - e.fetchedAt < this.ttlMs) return;
      try {
        const obj = await this.client.get(`/api/v1/namespaces/${namespace}/${kind}/${name}`);
        this.entries.set(key, { data: keyedData(kind, obj), fetchedAt: now, usedAt: e?.usedAt ?? now });
      } catch (err) {
        if (err instanceof KubeApiError && err.status.code === 404) this.entries.set(key, { data: undefined, fetchedAt: now, usedAt: e?.usedAt ?? now });
        else if (!e) throw err;
      }
    }));
    for (const [k, e] of this.entries) if (now - e.usedAt > IDLE_MS) this.entries.delete(k);
  }

  /** What `refresh` fetched; undefined when the object does not exist (or was never fetched). */
  get(kind: ObjectKind, namespace: string, name: string): KeyedData {
    const e = this.entries.get(this.key(kind, namespace, name));
    if (!e) return undefined;
    e.usedAt = this.now();
    return e.data;
  }
}
