/**
 * Child processes the cluster starts (etcd, the API server, the scheduler, the controller manager): spawned detached
 * with their output in a log file, tracked by PID, and stopped by that PID only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { internal, isSandpodError, timeout } from '../errors.js';
import { processTable } from '../process-table.js';

export interface ManagedProcess {
  name: string;
  pid: number;
  logFile: string;
  /** How it was started, so a supervisor can start it again the same way. */
  command: string;
  args: string[];
  /** The environment it was given beyond the starter's own. */
  env: Record<string, string>;
}

/** The variables of `env` that differ from this process's environment. */
function envChanges(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && process.env[k] !== v) out[k] = v;
  return out;
}

/**
 * Starts a process in its own process group, its stdout and stderr appended to `logFile`. `onChild` gets the child
 * (to learn its exit status while this process lives); it does not keep this process alive.
 */
export function startProcess(name: string, command: string, args: string[], logFile: string, env: NodeJS.ProcessEnv = process.env,
  onChild?: (child: ChildProcess) => void): ManagedProcess {
  const fd = openSync(logFile, 'a');
  try {
    const child = spawn(command, args, { detached: true, stdio: ['ignore', fd, fd], env });
    if (child.pid === undefined) throw internal(name, `could not start ${command}: is it installed? (run scripts/setup)`);
    child.unref();
    onChild?.(child);
    return { name, pid: child.pid, logFile, command, args, env: envChanges(env) };
  } finally {
    closeSync(fd);
  }
}

/** The last line a process wrote to its log, for error messages. */
export function lastLogLine(file: string): string {
  let text = '';
  try { text = readFileSync(file, 'utf8'); } catch { /* no log yet */ }
  return text.trim().split('\n').pop()?.trim() || 'no output';
}

/** Whether the process runs. A zombie (exited, not yet reaped by its new parent) does not. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Sends SIGTERM to the PID, then SIGKILL if it has not exited within `graceMs`. */
export async function stopProcess(pid: number, graceMs = 5000): Promise<void> {
  if (!isAlive(pid)) return;
  try { process.kill(pid, 'SIGTERM'); } catch { return; }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
}

/** A TCP port on `host` (127.0.0.1 by default) that was free a moment ago. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Polls `check` until it returns a value other than undefined, or fails with a message naming `what`. Errors from
 * `check` count as "not yet", except FailedPrecondition ones, which mean waiting is pointless and end it at once.
 */
export async function waitUntil<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 15000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      if (isSandpodError(err, 'FailedPrecondition')) throw err;
      last = err;
    }
    if (Date.now() > deadline) {
      throw timeout(what, `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Kills (SIGKILL, by PID) every process whose command line `matches` and all their descendants: what a node leaves
 * behind when its runtime could not clean up (a shim whose containerd is gone, the VM under it). Returns the PIDs.
 */
export function killProcessTrees(matches: (cmdline: string) => boolean): number[] {
  const table = processTable();
  const children = new Map<number, number[]>();
  for (const p of table) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid]);
  const doomed = new Set<number>();
  const visit = (pid: number): void => {
    if (doomed.has(pid) || pid === process.pid) return;
    doomed.add(pid);
    for (const c of children.get(pid) ?? []) visit(c);
  };
  for (const p of table) if (matches(p.cmdline)) visit(p.pid);
  for (const pid of doomed) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
  }
  return [...doomed];
}
