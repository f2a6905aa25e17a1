/**
 * One etcd watch shared by the whole API server, like kube-apiserver's watch cache: every object under /registry/
 * is held decoded in memory and kept current from that watch, and recent events are kept in a bounded window.
 * Watchers whose resourceVersion the window covers are served from it (an older one gets its own etcd watch,
 * which also reports compacted revisions as 410). Lists are consistent reads: the cache first catches up to
 * etcd's current revision. Objects handed out are shared and must be treated as read-only.
 */
import type { KubeObject } from '../kube/index.js';
import type { EtcdStore, StoreEvent } from './store.js';

interface Subscriber {
  prefix: string;
  after: number;
  onEvent: (e: StoreEvent) => void;
  onEnd: (err: Error) => void;
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

  constructor(private readonly store: EtcdStore, private readonly root = '/registry/', private readonly capacity = 5000) {}

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
  async list(prefix: string): Promise<{ items: KubeObject[]; revision: number }> {
    await this.start();
    const target = await this.store.revision();
    if (!(await this.caughtUp(target, 1000))) return this.store.list(prefix);
    const keys = [...this.objects.keys()].filter((k) => k.startsWith(prefix)).sort();
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
      this.cancel = await this.store.watch(this.root, revision, (e) => this.deliver(e), (err) => this.fail(err));
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

  /** The shared watch broke: end every subscriber (clients resume from their last revision) and start afresh next time. */
  private fail(err: Error): void {
    const subs = [...this.subscribers];
    this.reset();
    for (const sub of subs) sub.onEnd(err);
  }

  stop(): void {
    this.cancel?.();
    this.fail(new Error('the API server is shutting down'));
  }
}
