/**
 * kubelet's restart back-off: 10 s after the first crash, doubling up to 5 minutes, and forgotten once a
 * container has run for 10 minutes.
 */
export const BACKOFF_BASE_MS = 10_000;
export const BACKOFF_MAX_MS = 300_000;
export const BACKOFF_RESET_AFTER_MS = 600_000;

export class Backoff {
  private delayMs = 0;
  private until = 0;

  constructor(private readonly baseMs = BACKOFF_BASE_MS, private readonly maxMs = BACKOFF_MAX_MS) {}

  /** A crash at `now`, of an instance that had run for `ranMs`: the next start waits this long. */
  crashed(now: number, ranMs: number): number {
    this.delayMs = ranMs >= BACKOFF_RESET_AFTER_MS || this.delayMs === 0 ? this.baseMs : Math.min(this.maxMs, this.delayMs * 2);
    this.until = now + this.delayMs;
    return this.delayMs;
  }

  /** Milliseconds left before a restart is allowed (0: now). */
  remaining(now: number): number { return Math.max(0, this.until - now); }

  get currentDelayMs(): number { return this.delayMs; }
}
