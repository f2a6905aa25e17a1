/**
 * The API server's only store: etcd v3. An object's resourceVersion is the etcd mod revision of its key;
 * writes are compare-and-swap on that revision; watches resume from any revision etcd still holds.
 */
import { Etcd3, type ICompare, type IKeyValue, type Watcher } from 'etcd3';
import { SandpodError, unavailable } from '../errors.js';
import type { KubeObject } from '../kube/index.js';

export type WriteResult =
  | { ok: true; object: KubeObject }
  | { ok: false; reason: 'exists' | 'missing' | 'conflict'; current?: KubeObject };

export interface StoreEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  key: string;
  object: KubeObject;
  /** The object before this change (MODIFIED only), so watchers can tell when it leaves their selector. */
  previous?: KubeObject;
  revision: number;
}

/** Thrown when a watch asks for a revision etcd has compacted away: the client must list again (410). */
export class RevisionCompactedError extends SandpodError {
  constructor(readonly requested: number) {
    super('Expired', `too old resource version: ${requested}`, { object: 'watch' });
  }
}

const enc = (s: string): Buffer => Buffer.from(s);

function prefixEnd(prefix: string): Buffer {
  const b = Buffer.from(prefix);
  b[b.length - 1]! += 1;
  return b;
}

function decode(kv: IKeyValue, revision?: number): KubeObject {
  const obj = JSON.parse(kv.value.toString()) as KubeObject;
  obj.metadata.resourceVersion = String(revision ?? Number(kv.mod_revision));
  return obj;
}

function encodeObject(obj: KubeObject): Buffer {
  const { resourceVersion: _rv, ...meta } = obj.metadata;
  return Buffer.from(JSON.stringify({ ...obj, metadata: meta }));
}

const compactedMessage = /compacted/i;

export class EtcdStore {
  private readonly client: Etcd3;
  private readonly leases = new Map<number, { id: string; granted: number }>();

  constructor(readonly endpoints: string[]) {
    this.client = new Etcd3({ hosts: endpoints, dialTimeout: 3000 });
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof SandpodError) throw err;
      throw unavailable(`etcd ${this.endpoints.join(',')}`, `etcd ${what} failed: ${(err as Error).message}; check that etcd is running`, err);
    }
  }

  async get(key: string): Promise<KubeObject | undefined> {
    const res = await this.call('get', () => this.client.kv.range({ key: enc(key) }));
    const kv = res.kvs[0];
    return kv ? decode(kv) : undefined;
  }

  /** Every object under the prefix, and the store revision they were read at. */
  async list(prefix: string): Promise<{ items: KubeObject[]; revision: number }> {
    const { entries, revision } = await this.listEntries(prefix);
    return { items: entries.map((e) => e.object), revision };
  }

  /** Like list, with each object's key. */
  async listEntries(prefix: string): Promise<{ entries: Array<{ key: string; object: KubeObject }>; revision: number }> {
    const res = await this.call('list', () => this.client.kv.range({ key: enc(prefix), range_end: prefixEnd(prefix) }));
    return { entries: res.kvs.map((kv) => ({ key: kv.key.toString(), object: decode(kv) })), revision: Number(res.header.revision) };
  }

  async revision(): Promise<number> {
    const res = await this.call('status', () => this.client.kv.range({ key: enc('/'), limit: 1, keys_only: true }));
    return Number(res.header.revision);
  }

  /** Creates the key only if it does not exist; with `ttlSeconds`, etcd removes it after about that long. */
  async create(key: string, obj: KubeObject, ttlSeconds?: number): Promise<WriteResult> {
    const lease = ttlSeconds === undefined ? undefined : await this.leaseFor(ttlSeconds);
    const res = await this.putIf(key, obj, { key: enc(key), target: 'Create', result: 'Equal', create_revision: 0 }, lease);
    return res.ok ? res : { ok: false, reason: 'exists', ...(res.current ? { current: res.current } : {}) };
  }

  /** Replaces the key only if its mod revision is still `expected` (an expiring key keeps its lease). */
  async update(key: string, obj: KubeObject, expected: number): Promise<WriteResult> {
    return this.putIf(key, obj, { key: enc(key), target: 'Mod', result: 'Equal', mod_revision: String(expected) }, 'keep');
  }

  /** A lease that expires `ttlSeconds` from now, give or take a minute: one lease is shared per minute, as kube-apiserver does. */
  private async leaseFor(ttlSeconds: number): Promise<string> {
    const now = Date.now();
    const cached = this.leases.get(ttlSeconds);
    if (cached && now - cached.granted < 60_000) return cached.id;
    const res = await this.call('lease', () => this.client.leaseClient.leaseGrant({ TTL: ttlSeconds + 60 }));
    this.leases.set(ttlSeconds, { id: String(res.ID), granted: now });
    return String(res.ID);
  }

  /** One compare-and-put transaction; on failure, the current value (if any) comes back with the result. */
  /** `lease`: a lease ID for a new key, or 'keep' to leave an existing key's lease as it is. */
  private async putIf(key: string, obj: KubeObject, compare: ICompare, lease?: string): Promise<WriteResult> {
    const leaseField = lease === 'keep' ? { ignore_lease: true } : lease ? { lease } : {};
    const res = await this.call('write', () => this.client.kv.txn({
      compare: [compare],
      success: [{ request_put: { key: enc(key), value: encodeObject(obj), ...leaseField } }],
      failure: [{ request_range: { key: enc(key) } }],
    }));
    if (!res.succeeded) {
      const kv = res.responses[0]?.response_range.kvs[0];
      return kv ? { ok: false, reason: 'conflict', current: decode(kv) } : { ok: false, reason: 'missing' };
    }
    return { ok: true, object: { ...obj, metadata: { ...obj.metadata, resourceVersion: String(res.header.revision) } } };
  }

  /** Deletes the key only if its mod revision is still `expected`. The result carries the deleted object. */
  async delete(key: string, expected: number): Promise<WriteResult> {
    const res = await this.call('delete', () => this.client.kv.txn({
      compare: [{ key: enc(key), target: 'Mod', result: 'Equal', mod_revision: String(expected) }],
      success: [{ request_delete_range: { key: enc(key), prev_kv: true } }],
      failure: [{ request_range: { key: enc(key) } }],
    }));
    if (!res.succeeded) {
      const kv = res.responses[0]?.response_range.kvs[0];
      return kv ? { ok: false, reason: 'conflict', current: decode(kv) } : { ok: false, reason: 'missing' };
    }
    const prev = res.responses[0]?.response_delete_range.prev_kvs[0];
    if (!prev) return { ok: false, reason: 'missing' };
    return { ok: true, object: decode(prev, Number(res.header.revision)) };
  }

  /**
   * Streams changes under the prefix that happened after `after`. Throws RevisionCompactedError when etcd no
   * longer holds that history. `onEnd` is called once if the stream fails later (with the reason).
   */
  async watch(prefix: string, after: number, onEvent: (e: StoreEvent) => void, onEnd: (err: Error) => void): Promise<() => void> {
    try {
      await this.client.kv.range({ key: enc(prefix), range_end: prefixEnd(prefix), revision: String(after), count_only: true });
    } catch (err) {
      const m = /compacted/i.test((err as Error).message);
      if (m) throw new RevisionCompactedError(after);
      if (!/future revision/i.test((err as Error).message)) throw unavailable('etcd', `etcd watch setup failed: ${(err as Error).message}`, err);
    }
    let watcher: Watcher;
    try {
      watcher = await this.client.watch().prefix(prefix).startRevision(String(after + 1)).withPreviousKV().create();
    } catch (err) {
      throw unavailable('etcd', `etcd watch failed: ${(err as Error).message}`, err);
    }
    watcher.on('put', (kv: IKeyValue, prev?: IKeyValue) => {
      const rev = Number(kv.mod_revision);
      const created = kv.create_revision === kv.mod_revision;
      onEvent({ type: created ? 'ADDED' : 'MODIFIED', key: kv.key.toString(), object: decode(kv), ...(prev && !created ? { previous: decode(prev) } : {}), revision: rev });
    });
    watcher.on('delete', (kv: IKeyValue, prev?: IKeyValue) => {
      if (!prev) return;
      const rev = Number(kv.mod_revision);
      onEvent({ type: 'DELETED', key: kv.key.toString(), object: decode(prev, rev), revision: rev });
    });
    let ended = false;
    const end = (err: Error): void => {
      if (ended) return;
      ended = true;
      void watcher.cancel().catch(() => undefined);
      onEnd(compactedMessage.test(err.message) ? new RevisionCompactedError(after) : err);
    };
    watcher.on('error', end);
    watcher.on('disconnected', end);
    return () => {
      ended = true;
      void watcher.cancel().catch(() => undefined);
    };
  }

  /** Drops history up to `revision` (the API server does this periodically; tests use it to provoke 410). */
  async compact(revision: number): Promise<void> {
    await this.call('compact', () => this.client.kv.compact({ revision: String(revision), physical: true }));
  }

  close(): void {
    this.client.close();
  }
}
