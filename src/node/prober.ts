/**
 * The probes of one container instance, on kubelet's schedule: the startup probe runs first and gates the
 * other two; liveness restarts the container after `failureThreshold` failures in a row; readiness makes it
 * ready after `successThreshold` successes in a row and unready after `failureThreshold` failures. Probes run in
 * the background, one at a time per kind, and report through `onResult`, so a slow probe never holds up the pod.
 */
import type { Container, Probe } from '../kube/index.js';
import type { ProbeResult } from './probes.js';

export type ProbeKind = 'Startup' | 'Liveness' | 'Readiness';

interface KindState { probe: Probe; lastRun: number; running: boolean; failures: number; successes: number }

export interface ProbeVerdict {
  kind: ProbeKind;
  result: ProbeResult;
  /** The container must be killed: liveness or startup failed `failureThreshold` times. */
  restart: boolean;
}

export class ContainerProber {
  private readonly kinds = new Map<ProbeKind, KindState>();
  private started: boolean;
  private ready: boolean;
  private stopped = false;

  /**
   * `startedAtMs`: when this instance started (delays count from it). `run` performs one probe; `onResult`
   * hears every outcome (the caller posts events and restarts).
   */
  constructor(
    container: Container,
    private readonly startedAtMs: number,
    private readonly run: (probe: Probe, kind: ProbeKind) => Promise<ProbeResult>,
    private readonly onResult: (v: ProbeVerdict) => void,
  ) {
    const add = (kind: ProbeKind, probe: Probe | undefined): void => {
      if (probe) this.kinds.set(kind, { probe, lastRun: 0, running: false, failures: 0, successes: 0 });
    };
    add('Startup', container.startupProbe);
    add('Liveness', container.livenessProbe);
    add('Readiness', container.readinessProbe);
    this.started = !container.startupProbe;
    this.ready = !container.readinessProbe;
  }

  /** Whether the startup probe has succeeded (or there is none): kubelet's `started`. */
  get isStarted(): boolean { return this.started; }
  /** Whether readiness holds (no readiness probe: once started). */
  get isReady(): boolean { return this.started && this.ready; }

  /** Starts the probes that are due at `now`. */
  tick(now: number): void {
    if (this.stopped) return;
    for (const [kind, s] of this.kinds) {
      if (kind === 'Startup' ? this.started : !this.started) continue;
      const { probe } = s;
      if (s.running || now - this.startedAtMs < (probe.initialDelaySeconds ?? 0) * 1000) continue;
      if (s.lastRun !== 0 && now - s.lastRun < (probe.periodSeconds ?? 10) * 1000) continue;
      s.lastRun = now;
      s.running = true;
      void this.run(probe, kind).then((result) => {
        s.running = false;
        if (!this.stopped) this.record(kind, s, result);
      });
    }
  }

  /** No more probes or results for this instance (it exited or is being replaced). */
  stop(): void { this.stopped = true; }

  private record(kind: ProbeKind, s: KindState, result: ProbeResult): void {
    const { probe } = s;
    if (result.ok) {
      s.failures = 0;
      s.successes++;
      if (kind === 'Startup') this.started = true;
      if (kind === 'Readiness' && s.successes >= (probe.successThreshold ?? 1)) this.ready = true;
      this.onResult({ kind, result, restart: false });
      return;
    }
    s.successes = 0;
    s.failures++;
    const over = s.failures >= (probe.failureThreshold ?? 3);
    if (kind === 'Readiness' && over) this.ready = false;
    const restart = over && kind !== 'Readiness';
    if (restart) s.failures = 0;
    this.onResult({ kind, result, restart });
  }
}
