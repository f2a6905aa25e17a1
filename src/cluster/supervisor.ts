/**
 * Supervision of a cluster's daemons (etcd, the API server, the scheduler, the controller manager, the registry,
 * each node's containerd and node agent): one small supervisor process per cluster, started by `up`/`start` once everything runs and ended by
 * `down`/`stop` before anything is stopped. The command that starts the cluster launches each daemon itself (so it
 * can wait for it and report a failed start) and hands the set to the supervisor, which adopts the daemons by PID.
 *
 * The set lives in `<run>/daemons.json` (written by commands only): each daemon's command line, environment and
 * log, with a generation number. The supervisor writes `<run>/supervisor.json` (read by commands): per daemon its
 * current PID, state, restarts and last exit, and the generation it has read. A daemon that dies is started again
 * with the same command line after a back-off (1 s, doubling to 30 s; back to 1 s once it has run a minute) and
 * every exit and restart is logged to `<logs>/supervisor.log`. To change the set (a pool scaled, a node removed),
 * a command writes the new set, sends SIGHUP and waits until the supervisor reports the new generation; only then
 * does it stop what it removed, so the supervisor never restarts a daemon being stopped on purpose.
 */
import type { ChildProcess } from 'node:child_process';
import { z } from 'zod';
import { describeError, failedPrecondition } from '../errors.js';
import type { Logger } from '../log.js';
import { readJsonFile, writeJsonFile } from './json-file.js';
import { isAlive, lastLogLine, startProcess, stopProcess, waitUntil } from './processes.js';

export const daemonSpecSchema = z.object({
  name: z.string(),
  command: z.string(),
  args: z.array(z.string()),
  /** Set on top of the supervisor's own environment. */
  env: z.record(z.string(), z.string()),
  logFile: z.string(),
  /** The process the command started. */
  pid: z.number().int().positive(),
}).strict();
export type DaemonSpec = z.infer<typeof daemonSpecSchema>;

export const daemonSetSchema = z.object({ generation: z.number().int().nonnegative(), daemons: z.array(daemonSpecSchema) }).strict();
export type DaemonSet = z.infer<typeof daemonSetSchema>;

const exitSchema = z.object({
  at: z.string(), pid: z.number().int(), code: z.number().int().nullable(), signal: z.string().nullable(), logLine: z.string(),
}).strict();
export type DaemonExit = z.infer<typeof exitSchema>;

export const daemonStatusSchema = z.object({
  name: z.string(),
  pid: z.number().int(),
  state: z.enum(['running', 'restarting']),
  startedAt: z.string(),
  restarts: z.number().int().nonnegative(),
  lastExit: exitSchema.optional(),
  nextRestartAt: z.string().optional(),
}).strict();
export type DaemonStatus = z.infer<typeof daemonStatusSchema>;

export const supervisorStatusSchema = z.object({
  pid: z.number().int(),
  generation: z.number().int(),
  updatedAt: z.string(),
  daemons: z.array(daemonStatusSchema),
}).strict();
export type SupervisorStatus = z.infer<typeof supervisorStatusSchema>;

export const supervisorFiles = (runDir: string): { set: string; status: string } => ({ set: `${runDir}/daemons.json`, status: `${runDir}/supervisor.json` });

export const BACKOFF = { initialMs: 1000, maxMs: 30_000, resetAfterMs: 60_000 } as const;

/** The delay before restart number `failures` (1, 2, …) of a daemon that keeps dying. */
export const backoffMs = (failures: number): number => Math.min(BACKOFF.maxMs, BACKOFF.initialMs * 2 ** Math.max(0, failures - 1));

/** The OS seams of the supervisor, faked in tests. */
export interface SupervisorHost {
  now(): number;
  isAlive(pid: number): boolean;
  /** Starts the daemon again; returns its PID, and reports its exit when it ends. */
  spawn(spec: DaemonSpec, onExit: (code: number | null, signal: string | null) => void): number;
  lastLogLine(file: string): string;
}

interface Tracked {
  spec: DaemonSpec;
  status: DaemonStatus;
  failures: number;
  startedAtMs: number;
  /** Exit codes of processes this supervisor started, by PID. */
  exits: Map<number, { code: number | null; signal: string | null }>;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** The supervisor's state machine: which daemon runs, which waits for its restart, and when. */
export class Supervisor {
  private readonly tracked = new Map<string, Tracked>();
  private generation = -1;

  constructor(private readonly host: SupervisorHost, private readonly log: Logger) {}

  /** Takes over a new set: adopts daemons it does not know, forgets those no longer in it. */
  load(set: DaemonSet): void {
    const names = new Set(set.daemons.map((d) => d.name));
    for (const name of [...this.tracked.keys()]) {
      if (!names.has(name)) {
        this.tracked.delete(name);
        this.log.info('no longer supervising', { object: name });
      }
    }
    for (const spec of set.daemons) {
      const known = this.tracked.get(spec.name);
      if (known) {
        known.spec = { ...spec, pid: known.status.pid };
        continue;
      }
      const now = this.host.now();
      this.tracked.set(spec.name, {
        spec, failures: 0, startedAtMs: now, exits: new Map(),
        status: { name: spec.name, pid: spec.pid, state: 'running', startedAt: iso(now), restarts: 0 },
      });
      this.log.info('supervising', { object: spec.name, pid: spec.pid });
    }
    this.generation = set.generation;
  }

  /** One look at every daemon: notes deaths, starts those whose back-off has passed. Returns whether anything changed. */
  tick(): boolean {
    let changed = false;
    const now = this.host.now();
    for (const t of this.tracked.values()) {
      if (t.status.state === 'running' && !this.host.isAlive(t.status.pid)) {
        const exit = t.exits.get(t.status.pid);
        t.exits.delete(t.status.pid);
        t.failures = now - t.startedAtMs >= BACKOFF.resetAfterMs ? 1 : t.failures + 1;
        const delay = backoffMs(t.failures);
        t.status = {
          ...t.status, state: 'restarting', nextRestartAt: iso(now + delay),
          lastExit: { at: iso(now), pid: t.status.pid, code: exit?.code ?? null, signal: exit?.signal ?? null, logLine: this.host.lastLogLine(t.spec.logFile) },
        };
        this.log.warn('daemon exited; restarting after back-off', {
          object: t.spec.name, pid: t.status.lastExit?.pid, code: exit?.code ?? null, signal: exit?.signal ?? null,
          exitStatus: exit ? 'known' : 'not a child of the supervisor (adopted): exit status unknown', backoffMs: delay, lastLogLine: t.status.lastExit?.logLine,
        });
        changed = true;
      }
      if (t.status.state === 'restarting' && now >= Date.parse(t.status.nextRestartAt ?? '')) {
        try {
          const pid = this.host.spawn(t.spec, (code, signal) => t.exits.set(pid, { code, signal }));
          const { nextRestartAt: _, ...rest } = t.status;
          t.status = { ...rest, pid, state: 'running', startedAt: iso(now), restarts: t.status.restarts + 1 };
          t.startedAtMs = now;
          this.log.info('daemon restarted', { object: t.spec.name, pid, restarts: t.status.restarts });
        } catch (err) {
          t.failures += 1;
          t.status = { ...t.status, nextRestartAt: iso(now + backoffMs(t.failures)) };
          this.log.error('daemon could not be started', { object: t.spec.name, err: describeError(err) });
        }
        changed = true;
      }
    }
    return changed;
  }

  status(pid: number): SupervisorStatus {
    return { pid, generation: this.generation, updatedAt: iso(this.host.now()), daemons: [...this.tracked.values()].map((t) => t.status) };
  }
}

/** A log line for people: a structured one as `level: msg (err)`, any line at most 300 characters. */
export function summarizeLogLine(line: string): string {
  let text = line;
  try {
    const j = JSON.parse(line) as Record<string, unknown>;
    if (typeof j['msg'] === 'string') text = `${String(j['level'] ?? 'log')}: ${j['msg']}${j['err'] !== undefined ? ` (${String(j['err'])})` : ''}`;
  } catch {
    // Not JSON: as it is.
  }
  return text.length > 300 ? `${text.slice(0, 297)}...` : text;
}

/** The real OS under a supervisor process. */
export const processHost = (): SupervisorHost => ({
  now: () => Date.now(),
  isAlive,
  lastLogLine: (file) => summarizeLogLine(lastLogLine(file)),
  spawn: (spec, onExit) => {
    let child: ChildProcess | undefined;
    const proc = startProcess(spec.name, spec.command, spec.args, spec.logFile, { ...process.env, ...spec.env }, (c) => { child = c; });
    child?.once('exit', (code, signal) => onExit(code, signal));
    return proc.pid;
  },
});

/** The supervisor process's main loop: runs until SIGTERM, reloading the set on SIGHUP. */
export async function runSupervisor(runDir: string, log: Logger, host: SupervisorHost = processHost(), intervalMs = 500): Promise<() => Promise<void>> {
  const files = supervisorFiles(runDir);
  const supervisor = new Supervisor(host, log);
  const reload = (): void => {
    const set = readJsonFile(files.set, daemonSetSchema, 'the daemon set');
    if (!set) throw failedPrecondition(files.set, `no daemon set at ${files.set}; the supervisor is started by "sandpod up" or "sandpod start"`);
    supervisor.load(set);
    writeJsonFile(files.status, supervisor.status(process.pid));
  };
  reload();
  log.info('supervisor running', { object: runDir, pid: process.pid });
  process.on('SIGHUP', () => {
    try {
      reload();
    } catch (err) {
      log.error('cannot reload the daemon set', { err: describeError(err) });
    }
  });
  const timer = setInterval(() => {
    if (supervisor.tick()) writeJsonFile(files.status, supervisor.status(process.pid));
  }, intervalMs);
  return async () => {
    clearInterval(timer);
    log.info('supervisor stopping; the daemons keep running', { object: runDir });
  };
}

/** A command's view of a cluster's supervisor: launch it, change its set, stop it, read what it reports. */
export class SupervisorClient {
  private readonly files: { set: string; status: string };

  constructor(runDir: string, private readonly launchArgs: { command: string; args: string[]; logFile: string }) {
    this.files = supervisorFiles(runDir);
  }

  readSet(): DaemonSet | undefined {
    return readJsonFile(this.files.set, daemonSetSchema, 'the daemon set');
  }

  readStatus(): SupervisorStatus | undefined {
    return readJsonFile(this.files.status, supervisorStatusSchema, 'the supervisor status');
  }

  /** The supervisor's PID when it runs. */
  running(): number | undefined {
    const s = this.readStatus();
    return s && isAlive(s.pid) ? s.pid : undefined;
  }

  /** Each daemon's current PID: the supervisor's view where it has one, else the PID it was started with. */
  pids(): Map<string, number> {
    const out = new Map((this.readSet()?.daemons ?? []).map((d) => [d.name, d.pid]));
    const status = this.readStatus();
    if (status && status.generation >= (this.readSet()?.generation ?? 0)) for (const d of status.daemons) out.set(d.name, d.pid);
    return out;
  }

  /** Starts the supervisor over `daemons` (the set is replaced) and waits until it has read it. */
  async launch(daemons: DaemonSpec[]): Promise<number> {
    if (this.running()) await this.stop();
    const set = { generation: (this.readSet()?.generation ?? 0) + 1, daemons };
    writeJsonFile(this.files.set, set);
    const proc = startProcess('supervisor', this.launchArgs.command, this.launchArgs.args, this.launchArgs.logFile,
      { ...process.env, SANDPOD_LOG_FILE: this.launchArgs.logFile });
    await waitUntil(`the supervisor (pid ${proc.pid}) to read the daemon set (log: ${this.launchArgs.logFile})`, () => {
      if (!isAlive(proc.pid)) throw failedPrecondition('supervisor', `the supervisor exited during startup: ${lastLogLine(this.launchArgs.logFile)} (log: ${this.launchArgs.logFile})`);
      const s = this.readStatus();
      return s && s.pid === proc.pid && s.generation === set.generation ? true : undefined;
    }, 10_000, 50);
    return proc.pid;
  }

  /**
   * Changes the set and, when the supervisor runs, waits until it has taken the change: afterwards it neither
   * restarts a daemon removed from the set nor misses one added.
   */
  async update(change: (daemons: DaemonSpec[]) => DaemonSpec[]): Promise<void> {
    const current = this.readSet() ?? { generation: 0, daemons: [] };
    const pids = this.pids();
    const withPids = current.daemons.map((d) => ({ ...d, pid: pids.get(d.name) ?? d.pid }));
    const next = { generation: current.generation + 1, daemons: change(withPids) };
    writeJsonFile(this.files.set, next);
    const pid = this.running();
    if (pid === undefined) return;
    process.kill(pid, 'SIGHUP');
    await waitUntil(`the supervisor (pid ${pid}) to read the new daemon set`, () => {
      if (!isAlive(pid)) return true;
      return (this.readStatus()?.generation ?? -1) >= next.generation ? true : undefined;
    }, 10_000, 20);
  }

  /** Ends the supervisor; the daemons keep running (they are stopped by whoever stops the cluster). */
  async stop(): Promise<boolean> {
    const pid = this.running();
    if (pid === undefined) return false;
    await stopProcess(pid);
    return true;
  }
}
