/**
 * A keyed work queue, as client-go's: a key added many times is synced once, one key is never synced twice at the
 * same time (an add meanwhile syncs it again afterwards), and a sync says when its key wants another look.
 */

/** Syncs one key; answers in how many milliseconds to sync it again, or undefined when nothing is left to do. */
export type SyncKey = (key: string) => Promise<number | undefined>;

export interface WorkQueueOptions {
  /** When a sync throws: told the error, the key is synced again after `errorBackoffMs`. */
  onError(key: string, err: unknown): void;
  errorBackoffMs?: number;
}

export class WorkQueue {
  private readonly queued = new Set<string>();
  private readonly active = new Set<string>();
  /** Keys added while their sync ran. */
  private readonly dirty = new Set<string>();
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private stopped = false;

  constructor(private readonly sync: SyncKey, private readonly opts: WorkQueueOptions) {}

  add(key: string): void {
    if (this.stopped) return;
    if (this.active.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    setImmediate(() => void this.run(key));
  }

  /** Adds the key after `ms`, unless it is already due sooner. */
  addAfter(key: string, ms: number): void {
    if (this.stopped) return;
    const at = Date.now() + ms;
    const pending = this.timers.get(key);
    if (pending && pending.at <= at) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, Math.max(0, ms));
    this.timers.set(key, { at, timer });
  }

  /** Whether any key is queued, syncing or waiting for its time (for tests). */
  get idle(): boolean {
    return this.queued.size === 0 && this.active.size === 0 && this.timers.size === 0;
  }

  stop(): void {
    this.stopped = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }

  private async run(key: string): Promise<void> {
    this.queued.delete(key);
    if (this.stopped) return;
    this.active.add(key);
    let again: number | undefined;
    try {
      again = await this.sync(key);
    } catch (err) {
      this.opts.onError(key, err);
      again = this.opts.errorBackoffMs ?? 1000;
    } finally {
      this.active.delete(key);
    }
    if (this.dirty.delete(key)) this.add(key);
    else if (again !== undefined) this.addAfter(key, again);
  }
}
