/**
 * CPU rates from cumulative counters, the way metrics-server turns two scrapes into `usage.cpu`: the CPU time
 * used between the previous and the last sample of a series, divided by the time between them. Each series
 * (a container instance, a process, the node) keeps a small bounded window of its newest samples.
 */

/** One reading of a series. */
export interface Sample<M = unknown> {
  /** When it was taken, ms since the epoch. */
  at: number;
  /** CPU used since the series began, in core-nanoseconds; only ever grows within one series. */
  cpuNs: number;
  /** What else was read at the same moment (memory), reported as it was last read. */
  memory: M;
}

export interface CpuRate {
  /** Average CPU use over the window, in nanocores (core-nanoseconds per second). */
  nanoCores: number;
  windowMs: number;
  /** The end of the window: the last sample's time. */
  at: number;
}

/**
 * metrics-server's resourceUsage: undefined when the samples do not span a positive interval or the counter
 * went backwards (a restarted series, which must not produce a negative or huge rate).
 */
export function cpuRate(prev: Pick<Sample, 'at' | 'cpuNs'>, last: Pick<Sample, 'at' | 'cpuNs'>): CpuRate | undefined {
  const windowMs = last.at - prev.at;
  if (!(windowMs > 0) || last.cpuNs < prev.cpuNs) return undefined;
  return { nanoCores: Math.round(((last.cpuNs - prev.cpuNs) * 1000) / windowMs), windowMs, at: last.at };
}

/** How many samples a series keeps: metrics-server's `prev` and `last`. */
const DEPTH = 2;

/** Samples per series, newest last, DEPTH at most; a series missing from a round is forgotten. */
export class UsageWindows<M> {
  private readonly series = new Map<string, Array<Sample<M>>>();

  /**
   * Adds one round of samples, keyed by series. A sample no newer than its series' last is ignored (the source
   * had nothing new); one whose counter went backwards starts its series again.
   */
  record(round: ReadonlyMap<string, Sample<M>>): void {
    for (const key of this.series.keys()) if (!round.has(key)) this.series.delete(key);
    for (const [key, sample] of round) {
      const samples = this.series.get(key) ?? [];
      const last = samples[samples.length - 1];
      if (last && sample.at <= last.at) continue;
      if (last && sample.cpuNs < last.cpuNs) samples.length = 0;
      samples.push(sample);
      if (samples.length > DEPTH) samples.splice(0, samples.length - DEPTH);
      this.series.set(key, samples);
    }
  }

  latest(key: string): Sample<M> | undefined {
    const samples = this.series.get(key);
    return samples?.[samples.length - 1];
  }

  /** The rate between the series' two newest samples, as metrics-server computes it from its last two scrapes. */
  rate(key: string): CpuRate | undefined {
    const samples = this.series.get(key) ?? [];
    const [prev, last] = samples.slice(-2);
    return prev && last ? cpuRate(prev, last) : undefined;
  }

  get size(): number {
    return this.series.size;
  }
}
