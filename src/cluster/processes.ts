/**
 * Child processes the cluster starts (etcd, the API server, the scheduler): spawned detached with their output in
 * a log file, tracked by PID, and stopped by that PID only.
 */
import { spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { isSandpodError, timeout } from '../errors.js';

export interface ManagedProcess {
  name: string;
  pid: number;
  logFile: string;
}

/** Starts a process in its own process group, its stdout and stderr appended to `logFile`. */
export function startProcess(name: string, command: string, args: string[], logFile: string, env: NodeJS.ProcessEnv = process.env): ManagedProcess {
  const fd = openSync(logFile, 'a');
  try {
    const child = spawn(command, args, { detached: true, stdio: ['ignore', fd, fd], env });
    if (child.pid === undefined) throw new Error(`could not start ${command}`);
    child.unref();
    return { name, pid: child.pid, logFile };
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

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
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
