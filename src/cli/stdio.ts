/**
 * Connects a sandboxed process to this terminal: output to stdout/stderr, stdin forwarded (with EOF),
 * raw mode and window size in terminal mode, signals forwarded otherwise. Returns the exit status.
 */
import { constants } from 'node:os';
import type { ProcessSpec } from '../protocol/index.js';
import { exitStatus, type ProcessHandle, type ProcessIo } from '../sandbox/index.js';

export type Starter = (spec: ProcessSpec, io: ProcessIo) => Promise<ProcessHandle>;

export function signalNumber(name: string): number | undefined {
  return (constants.signals as Record<string, number>)[name];
}

const localIo: ProcessIo = {
  onStdout: (d) => { process.stdout.write(d); },
  onStderr: (d) => { process.stderr.write(d); },
};

export interface AttachOptions { forwardStdin: boolean }

export async function runAttached(start: Starter, spec: ProcessSpec, opts: AttachOptions): Promise<number> {
  const stdin = process.stdin;
  const raw = spec.terminal && stdin.isTTY;
  if (spec.terminal && process.stdout.isTTY) {
    spec = { ...spec, rows: process.stdout.rows, cols: process.stdout.columns };
  }
  const handle = await start({ ...spec, stdin: opts.forwardStdin }, localIo);
  const cleanups: (() => void)[] = [];
  if (raw) { stdin.setRawMode(true); cleanups.push(() => stdin.setRawMode(false)); }
  if (opts.forwardStdin) {
    const onData = (d: Buffer): void => handle.write(d);
    const onEnd = (): void => handle.closeStdin();
    stdin.on('data', onData);
    stdin.on('end', onEnd);
    cleanups.push(() => { stdin.off('data', onData); stdin.off('end', onEnd); stdin.pause(); });
  }
  if (spec.terminal && process.stdout.isTTY) {
    const onResize = (): void => handle.resize(process.stdout.rows, process.stdout.columns);
    process.stdout.on('resize', onResize);
    cleanups.push(() => process.stdout.off('resize', onResize));
  }
  if (!spec.terminal) {
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      const forward = (): void => { handle.signal(sig).catch(() => undefined); };
      process.on(sig, forward);
      cleanups.push(() => process.off(sig, forward));
    }
  }
  const exit = await handle.exited;
  for (const c of cleanups) c();
  if (exit.error) {
    process.stderr.write(`sandpod: ${exit.error}\n`);
    return 255;
  }
  return exitStatus(exit, signalNumber);
}
