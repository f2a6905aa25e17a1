/**
 * The API server's only store: etcd v3. An object's resourceVersion is the etcd mod revision of its key;
 * writes are compare-and-swap on that revision; watches resume from any revision etcd still holds.
 *
 * Built to outlive etcd trouble: every range read is paged (no answer grows past what gRPC accepts, however many
 * objects exist), reads are retried for a moment when etcd is unreachable, and the client has no circuit breaker,
 * so the first call after etcd is back goes through (etcd3's default breaker opens after three failures and, with a
 * list too large for the receive limit failing on every half-open probe, never closed again).
 */
import { ExponentialBackoff, noop, type IBackoff } from 'cockatiel';
import { EtcdLeaseInvalidError, Etcd3, GRPCResourceExhastedError, GRPCUnavailableError, type ICompare, type IKeyValue, type IRangeResponse, type Watcher } from 'etcd3';
import { setTimeout as sleep } from 'node:timers/promises';
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

export interface Entry {
  key: string;
  object: KubeObject;
}

/** One page of a range read. */
export interface RangePage {
  entries: Entry[];
  /** The revision the page was read at. */
  revision: number;
  /** Whether keys remain in the range after this page. */
  more: boolean;
  /** How many keys the range holds from its start key on (this page's included). */
  count: number;
}

/** Thrown when a watch asks for a revision etcd has compacted away: the client must list again (410). */
export class RevisionCompactedError extends SandpodError {
  constructor(readonly requested: number) {
    super('Expired', `too old resource version: ${requested}`, { object: 'watch' });
  }
}

/** Thrown when a read at a revision finds it compacted; lists turn it into their own 410. */
export class ReadCompactedError extends SandpodError {
  constructor(readonly revision: number) {
    super('Expired', 'The resourceVersion for the provided list is too old.', { object: `etcd revision ${revision}` });
  }
}

const enc = (s: string): Buffer => Buffer.from(s);

/** The end of the key range holding every key that starts with `prefix`. */
export function prefixEnd(prefix: string): string {
  const b = Buffer.from(prefix);
  b[b.length - 1]! += 1;
  return b.toString();
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

export interface EtcdStoreOptions {
  /** Keys per range read (fewer when a page would pass the receive limit). */
  pageSize?: number;
  /** How long reads are retried while etcd is unreachable. */
  readRetryMs?: number;
  /** The largest answer gRPC accepts (tests make it small to see pages shrink). */
  maxReceiveBytes?: number;
}

/** What one object may take in etcd: its default --max-request-bytes (1.5 MiB) less room for the rest of the request. */
export const maxObjectBytes = 1.5 * 1024 * 1024 - 4096;

/** gRPC's default receive limit is 4 MiB; a page of objects near etcd's own 1.5 MiB request limit needs more. */
export const maxReceiveBytes = 64 * 1024 * 1024;

export class EtcdStore {
  private readonly client: Etcd3;
  private readonly leases = new Map<number, { id: string; granted: number }>();
  private readonly pageSize: number;
  private readonly readRetryMs: number;

  constructor(readonly endpoints: string[], opts: EtcdStoreOptions = {}) {
    this.pageSize = opts.pageSize ?? 1000;
    this.readRetryMs = opts.readRetryMs ?? 2000;
    this.client = new Etcd3({
      hosts: endpoints,
      dialTimeout: 3000,
      grpcOptions: {
        'grpc.max_receive_message_length': opts.maxReceiveBytes ?? maxReceiveBytes,
        // Reconnect within a second of etcd coming back (gRPC's default backoff grows to two minutes).
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 1000,
      },
      faultHandling: {
        host: () => noop,
        global: noop,
        // Watch streams reconnect within a second too (the default backoff grows to 30 s). etcd3 1.1.2 calls this a
        // backoff but uses it as a backoff factory (WatchManager calls next() on it first), as its own example does.
        watchBackoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 1000 }) as unknown as IBackoff<unknown>,
      },
    });
  }

  /**
   * Runs an etcd call, turning its failures into Unavailable errors. Reads (`retry`) are tried again for a moment
   * while etcd is unreachable, so a restart of etcd is a pause rather than an error; writes are not, because a
   * write whose answer was lost may have been applied.
   */
  private async call<T>(what: string, fn: () => Promise<T>, retry = false): Promise<T> {
    const deadline = Date.now() + this.readRetryMs;
    for (let delay = 25; ; delay = Math.min(delay * 2, 250)) {
      try {
        return await fn();
      } catch (err) {
        if (err instanceof SandpodError) throw err;
        if (retry && err instanceof GRPCUnavailableError && Date.now() + delay < deadline) {
          await sleep(delay);
          continue;
        }
        throw unavailable(`etcd ${this.endpoints.join(',')}`, `etcd ${what} failed: ${(err as Error).message}; check that etcd is running`, err);
      }
    }
  }

  async get(key: string): Promise<KubeObject | undefined> {
    const res = await this.call('get', () => this.client.kv.range({ key: enc(key) }), true);
    const kv = res.kvs[0];
    return kv ? decode(kv) : undefined;
  }

  /**
   * One page of keys in [start, end): at most `limit` of them, read at `revision` (the newest when undefined).
   * Throws ReadCompactedError when that revision is gone. A page that would pass the receive limit is read in
   * smaller pages.
   */
  async range(start: string, end: string, opts: { revision?: number; limit: number }): Promise<RangePage> {
    let limit = Math.max(1, opts.limit);
    for (;;) {
      let res: IRangeResponse;
      try {
        res = await this.call('list', () => this.client.kv.range({
          key: enc(start), range_end: enc(end), limit, ...(opts.revision !== undefined ? { revision: opts.revision } : {}),
        }), true);
      } catch (err) {
        const cause = (err as SandpodError).cause;
        if (cause instanceof GRPCResourceExhastedError && limit > 1) {
          limit = Math.ceil(limit / 2);
          continue;
        }
        if (opts.revision !== undefined && compactedMessage.test(String((cause as Error | undefined)?.message))) throw new ReadCompactedError(opts.revision);
        throw err;
      }
      return {
        entries: res.kvs.map((kv) => ({ key: kv.key.toString(), object: decode(kv) })),
        revision: Number(res.header.revision),
        more: res.more,
        count: Number(res.count),
      };
    }
  }

  /** Every object under the prefix, and the store revision they were read at. */
  async list(prefix: string): Promise<{ items: KubeObject[]; revision: number }> {
    const { entries, revision } = await this.listEntries(prefix);
    return { items: entries.map((e) => e.object), revision };
  }

  /** Like list, with each object's key. Read page by page, all pages at the revision of the first. */
  async listEntries(prefix: string): Promise<{ entries: Entry[]; revision: number }> {
    for (;;) {
      try {
        const entries: Entry[] = [];
        let revision: number | undefined;
        let start = prefix;
        for (;;) {
          const page = await this.range(start, prefixEnd(prefix), { ...(revision !== undefined ? { revision } : {}), limit: this.pageSize });
          revision ??= page.revision;
          entries.push(...page.entries);
          const last = page.entries.at(-1);
          if (!page.more || !last) return { entries, revision };
          start = `${last.key}\0`;
        }
      } catch (err) {
        // Compacted between two pages: read the whole range again at the newest revision.
        if (!(err instanceof ReadCompactedError)) throw err;
      }
    }
  }

  async revision(): Promise<number> {
    const res = await this.call('status', () => this.client.kv.range({ key: enc('/'), limit: 1, keys_only: true }), true);
    return Number(res.header.revision);
  }

  /** Creates the key only if it does not exist; with `ttlSeconds`, etcd removes it after about that long. */
  async create(key: string, obj: KubeObject, ttlSeconds?: number): Promise<WriteResult> {
    const res = await this.putIf(key, obj, { key: enc(key), target: 'Create', result: 'Equal', create_revision: 0 }, ttlSeconds);
    return res.ok ? res : { ok: false, reason: 'exists', ...(res.current ? { current: res.current } : {}) };
  }

  /**
   * Replaces the key only if its mod revision is still `expected`. With `ttlSeconds` the key gets a fresh lease, so
   * it expires that long after its last write (kube-apiserver's TTL on update); without, it keeps the lease it has.
   */
  async update(key: string, obj: KubeObject, expected: number, ttlSeconds?: number): Promise<WriteResult> {
    return this.putIf(key, obj, { key: enc(key), target: 'Mod', result: 'Equal', mod_revision: String(expected) }, ttlSeconds ?? 'keep');
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

  /**
   * One compare-and-put transaction; on failure, the current value (if any) comes back with the result. `lease`: a
   * TTL for a lease to attach, or 'keep' to leave an existing key's lease as it is.
   */
  private async putIf(key: string, obj: KubeObject, compare: ICompare, lease?: number | 'keep'): Promise<WriteResult> {
    const value = encodeObject(obj);
    if (value.length + key.length > maxObjectBytes) {
      throw new SandpodError('TooLarge', `the object is too large to store: ${value.length} bytes, more than the ${maxObjectBytes} etcd accepts in one write`, { object: key });
    }
    for (let attempt = 0; ; attempt++) {
      const leaseField = lease === 'keep' ? { ignore_lease: true } : lease !== undefined ? { lease: await this.leaseFor(lease) } : {};
      try {
        const res = await this.call('write', () => this.client.kv.txn({
          compare: [compare],
          success: [{ request_put: { key: enc(key), value, ...leaseField } }],
          failure: [{ request_range: { key: enc(key) } }],
        }));
        if (!res.succeeded) {
          const kv = res.responses[0]?.response_range.kvs[0];
          return kv ? { ok: false, reason: 'conflict', current: decode(kv) } : { ok: false, reason: 'missing' };
        }
        return { ok: true, object: { ...obj, metadata: { ...obj.metadata, resourceVersion: String(res.header.revision) } } };
      } catch (err) {
        // The shared lease is gone (etcd lost it, or it was revoked): grant another and write again.
        if (typeof lease !== 'number' || attempt > 0 || !((err as SandpodError).cause instanceof EtcdLeaseInvalidError)) throw err;
        this.leases.delete(lease);
      }
    }
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
   * longer holds that history. `onEnd` is called once if the stream fails later (with the reason): the caller
   * resumes from the last revision it saw, which etcd3's own reconnection cannot be trusted to do (it moves its
   * start revision to the header revision of a creation answer, past events it has not delivered yet).
   */
  async watch(prefix: string, after: number, onEvent: (e: StoreEvent) => void, onEnd: (err: Error) => void): Promise<() => void> {
    try {
      await this.client.kv.range({ key: enc(prefix), range_end: enc(prefixEnd(prefix)), revision: String(after), count_only: true });
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
      onEnd(compactedMessage.test(err.message) ? new RevisionCompactedError(after) : unavailable('etcd', `the etcd watch on ${prefix} broke: ${err.message}`, err));
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
