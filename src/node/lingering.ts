/**
 * What the node's sweeps (lost shims, stale network namespace files) share: a candidate is acted on only once it
 * has looked the same over two looks at least a grace period apart (something being made looks lost for a moment),
 * and the looks run periodically, one at a time.
 */
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';

export class Lingering<V> {
  private readonly seen = new Map<string, { value: V; since: number }>();

  /** `same`: whether a later look saw the same thing under a key (a PID reused by another shim is not). */
  constructor(private readonly graceMs: number, private readonly same: (a: V, b: V) => boolean = Object.is) {}

  /** Records one look's candidates; returns those seen the same since at least `graceMs` ago. Keys not seen now are forgotten. */
  look(candidates: ReadonlyMap<string, V>, now: number): Array<[string, V]> {
    for (const key of this.seen.keys()) if (!candidates.has(key)) this.seen.delete(key);
    const due: Array<[string, V]> = [];
    for (const [key, value] of candidates) {
      const before = this.seen.get(key);
      if (!before || !this.same(before.value, value)) this.seen.set(key, { value, since: now });
      else if (now - before.since >= this.graceMs) due.push([key, value]);
    }
    return due;
  }

  /** Forgets a key acted on, so it must linger again before the next action. */
  forget(key: string): void {
    this.seen.delete(key);
  }
}

/** Runs `look` every `intervalMs` until stopped, never two at once; a failed look is logged as `what`. */
export class Periodic {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(private readonly look: () => Promise<unknown>, private readonly what: string, private readonly log: Logger) {}

  start(intervalMs: number): void {
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.look()
        .catch((err: unknown) => this.log.warn(`cannot ${this.what}`, { err: describeError(err) }))
        .finally(() => { this.running = undefined; });
    }, intervalMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }
}
