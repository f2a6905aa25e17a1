/**
 * One etcd watch shared by the whole API server, like kube-apiserver's watch cache: every object under /registry/
 * is held decoded in memory and kept current from that watch, and recent events are kept in a bounded window.
 * Watchers whose resourceVersion the window covers are served from it (an older one gets its own etcd watch,
 * which also reports compacted revisions as 410). Consistent lists first catch up to etcd's current revision;
 * `resourceVersion=0` lists take what the cache holds.
 *
 * When the shared watch breaks (etcd restarted), the cache resumes it from the last revision it saw, and its
 * watchers notice nothing but a pause. Only when that revision is gone (compacted while etcd was away) does it
 * list again and end its watchers with 410 Expired, so they list again too. Objects handed out are shared and
 * must be treated as read-only.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { SandpodError } from '../errors.js';
import type { KubeObject } from '../kube/index.js';
import { RevisionCompactedError, type EtcdStore, type StoreEvent } from './store.js';

/** What the cache needs of the store. */
export type CacheStore = Pick<EtcdStore, 'listEntries' | 'list' | 'revision' | 'watch'>;

interface Subscriber {
  prefix: string;
  after: number;
  onEvent: (e: StoreEvent) => void;
  onEnd: (err: Error) => void;
}

export interface CachedList {
  items: KubeObject[];
  revision: number;
}

export interface WatchCacheOptions {
  root?: string;
  /** Events kept for watchers that start from a recent revision. */
  capacity?: number;
  /** How long a list for a future resourceVersion waits for the cache to get there (kube: 3 s). */
  freshnessTimeoutMs?: number;
  log?: (message: string, fields: Record<string, unknown>) => void;
}

export class WatchCache {
  private readonly window: StoreEvent[] = [];
  private readonly subscribers = new Set<Subscriber>();
  private readonly objects = new Map<string, KubeObject>();
  /** Every change after this revision is in the window or still to come. */
  private coveredFrom = Number.POSITIVE_INFINITY;
  /** The revision the in-memory objects reflect. */
  private revision = 0;
  private waiters: Array<() => void> = [];
  private starting: Promise<void> | undefined;
  private cancel: (() => void) | undefined;
  private stopped = false;
  private readonly root: string;
  private readonly capacity: number;
  private readonly freshnessTimeoutMs: number;

  constructor(private readonly store: CacheStore, private readonly opts: WatchCacheOptions = {}) {
    this.root = opts.root ?? '/registry/';
    this.capacity = opts.capacity ?? 5000;
    this.freshnessTimeoutMs = opts.freshnessTimeoutMs ?? 3000;
  }

  /** Streams changes under `prefix` after revision `after`; resolves to the function that stops them. */
  async subscribe(prefix: string, after: number, onEvent: (e: StoreEvent) => void, onEnd: (err: Error) => void): Promise<() => void> {
    await this.start();
    if (after < this.coveredFrom) return this.store.watch(prefix, after, onEvent, onEnd);
    const sub: Subscriber = { prefix, after, onEvent, onEnd };
    for (const e of this.window) if (e.revision > after && e.key.startsWith(prefix)) onEvent(e);
    this.subscribers.add(sub);
    return () => this.subscribers.delete(sub);
  }

  /** The objects under `prefix` as of etcd's current revision (read from memory once the cache has caught up). */
  async list(prefix: string): Promise<CachedList> {
    await this.start();
    const target = await this.store.revision();
    if (!(await this.caughtUp(target, 1000))) return this.store.list(prefix);
    return this.snapshot(prefix);
  }

  /**
   * The objects under `prefix` as the cache holds them, once it reflects at least `revision` (kube's
   * resourceVersion semantics for lists: "0" is anything, N is "not older than N"). Waits a few seconds for a
   * revision the cache has not seen yet, then answers 504 as kube-apiserver does.
   */
  async listAtLeast(prefix: string, revision: number): Promise<CachedList> {
    await this.start();
    if (!(await this.caughtUp(revision, this.freshnessTimeoutMs))) {
      throw new SandpodError('Timeout', `Too large resource version: ${revision}, current: ${this.revision}`, {
        details: { causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }], retryAfterSeconds: 1 },
      });
    }
    return this.snapshot(prefix);
  }

  private snapshot(prefix: string): CachedList {
    const keys: string[] = [];
    for (const k of this.objects.keys()) if (k.startsWith(prefix)) keys.push(k);
    keys.sort();
    return { items: keys.map((k) => this.objects.get(k)!), revision: this.revision };
  }

  private caughtUp(target: number, timeoutMs: number): Promise<boolean> {
    if (this.revision >= target) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        resolve(false);
      }, timeoutMs);
      const check = (): void => {
        if (this.revision < target) return;
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
        resolve(true);
      };
      this.waiters.push(check);
    });
  }

  private start(): Promise<void> {
    this.starting ??= (async () => {
      const { entries, revision } = await this.store.listEntries(this.root);
      for (const e of entries) this.objects.set(e.key, e.object);
      this.revision = revision;
      this.cancel = await this.store.watch(this.root, revision, (e) => this.deliver(e), (err) => this.broken(err));
      this.coveredFrom = revision;
    })().catch((err: unknown) => {
      this.reset();
      throw err;
    });
    return this.starting;
  }

  private deliver(e: StoreEvent): void {
    if (e.type === 'DELETED') this.objects.delete(e.key);
    else this.objects.set(e.key, e.object);
    this.revision = Math.max(this.revision, e.revision);
    this.window.push(e);
    if (this.window.length > this.capacity) this.coveredFrom = this.window.shift()!.revision;
    for (const sub of this.subscribers) if (e.revision > sub.after && e.key.startsWith(sub.prefix)) sub.onEvent(e);
    for (const w of [...this.waiters]) w();
  }

  private reset(): void {
    this.subscribers.clear();
    this.objects.clear();
    this.window.length = 0;
    this.coveredFrom = Number.POSITIVE_INFINITY;
    this.revision = 0;
    this.starting = undefined;
    this.cancel = undefined;
  }

  /** The shared watch broke: resume it from the last revision seen, or start afresh if that revision is gone. */
  private broken(err: Error): void {
    this.cancel = undefined;
    if (this.stopped) return;
    if (err instanceof RevisionCompactedError) {
      this.restart(err);
      return;
    }
    this.opts.log?.('the shared etcd watch broke; resuming it', { revision: this.revision, err: err.message });
    // Meanwhile the cache serves what it holds to resourceVersion=0 lists; consistent lists need etcd anyway.
    void (async () => {
      for (let delay = 100; !this.stopped; delay = Math.min(delay * 2, 1000)) {
        try {
          const cancel = await this.store.watch(this.root, this.revision, (e) => this.deliver(e), (e) => this.broken(e));
          if (this.stopped) return cancel();
          this.cancel = cancel;
          this.opts.log?.('the shared etcd watch resumed', { revision: this.revision });
          return;
        } catch (e) {
          if (e instanceof RevisionCompactedError) {
            this.restart(e);
            return;
          }
          await sleep(delay);
        }
      }
    })();
  }

  /** Ends every subscriber with `err` (clients resume from their last revision, or list again after a 410) and starts afresh next time. */
  private restart(err: Error): void {
    const subs = [...this.subscribers];
    this.cancel?.();
    this.reset();
    for (const sub of subs) sub.onEnd(err);
  }

  stop(): void {
    this.stopped = true;
    this.cancel?.();
    this.restart(new SandpodError('Unavailable', 'the API server is shutting down'));
  }
}
