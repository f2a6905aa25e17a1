/**
 * One etcd watch shared by every API watcher: events under /registry/ are decoded once, kept in a bounded
 * window, and fanned out. A watcher whose resourceVersion the window covers is served from it; an older one
 * gets its own etcd watch (which also reports compacted revisions as 410).
 */
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
  /** Every change after this revision is in the window or still to come. */
  private coveredFrom = Number.POSITIVE_INFINITY;
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

  private start(): Promise<void> {
    this.starting ??= (async () => {
      const from = await this.store.revision();
      this.cancel = await this.store.watch(this.root, from, (e) => this.deliver(e), (err) => this.fail(err));
      this.coveredFrom = from;
    })().catch((err: unknown) => {
      this.starting = undefined;
      throw err;
    });
    return this.starting;
  }

  private deliver(e: StoreEvent): void {
    this.window.push(e);
    if (this.window.length > this.capacity) this.coveredFrom = this.window.shift()!.revision;
    for (const sub of this.subscribers) if (e.revision > sub.after && e.key.startsWith(sub.prefix)) sub.onEvent(e);
  }

  /** The shared watch broke: end every subscriber (clients resume from their last revision) and start afresh next time. */
  private fail(err: Error): void {
    const subs = [...this.subscribers];
    this.subscribers.clear();
    this.window.length = 0;
    this.coveredFrom = Number.POSITIVE_INFINITY;
    this.starting = undefined;
    this.cancel = undefined;
    for (const sub of subs) sub.onEnd(err);
  }

  stop(): void {
    this.cancel?.();
    this.fail(new Error('the API server is shutting down'));
  }
}
