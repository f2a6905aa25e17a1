/** Polling with a deadline, for conditions nothing notifies us of (a socket appearing, a log line). */
import { setTimeout as sleep } from 'node:timers/promises';

export interface WaitOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** Called when the deadline passes; its error is thrown. */
  onTimeout: () => Error;
  /** Checked before each attempt: a non-undefined error ends the wait at once (e.g. the process died). */
  abort?: () => Error | undefined;
}

export async function waitUntil<T>(probe: () => Promise<T | undefined> | T | undefined, opts: WaitOptions): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const aborted = opts.abort?.();
    if (aborted) throw aborted;
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() >= deadline) throw opts.onTimeout();
    await sleep(opts.intervalMs ?? 20);
  }
}
