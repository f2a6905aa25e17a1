/**
 * The task's stdio: the FIFOs (or files) containerd names in Create/Exec, connected to a sandboxed process.
 * An empty path means that stream is absent.
 *
 * FIFOs are opened non-blocking and driven as sockets: a blocking open of a FIFO whose other end never
 * shows up would park a libuv thread forever and keep the shim from exiting. For stdin the shim also holds a
 * write end of its own, so the FIFO does not read as ended before containerd's writer arrives; CloseIO
 * drops that end, and the process gets EOF once everything containerd wrote has been read.
 */
import { closeSync, constants, createReadStream, createWriteStream, openSync, statSync } from 'node:fs';
import { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import type { ProcessHandle, ProcessIo } from '../sandbox/index.js';

export interface StdioPaths { stdin: string; stdout: string; stderr: string; terminal: boolean }

const path = (p: string): string => (p.startsWith('fifo://') ? p.slice('fifo://'.length) : p.startsWith('file://') ? p.slice('file://'.length) : p);

function isFifo(p: string): boolean {
  try { return statSync(p).isFIFO(); } catch { return false; }
}

/** An output FIFO, opened read-write so the open never blocks; only the writing side is driven. */
function openOutputFifo(p: string): Socket {
  return new Socket({ fd: openSync(p, constants.O_RDWR | constants.O_NONBLOCK), readable: false, writable: true });
}

function output(p: string): Writable | undefined {
  if (!p) return undefined;
  const s = isFifo(path(p)) ? openOutputFifo(path(p)) : createWriteStream(path(p), { flags: 'a' });
  s.on('error', () => undefined);
  return s;
}

export class TaskStdio {
  private out: Writable | undefined;
  private err: Writable | undefined;
  private in: Readable | undefined;
  private stdinKeepalive: number | undefined;

  constructor(readonly paths: StdioPaths) {}

  /** Output callbacks for the sandboxed process. */
  io(): ProcessIo {
    this.out = output(this.paths.stdout);
    this.err = this.paths.terminal ? undefined : output(this.paths.stderr);
    return {
      onStdout: (d) => { this.out?.write(d); },
      onStderr: (d) => { (this.err ?? this.out)?.write(d); },
    };
  }

  get hasStdin(): boolean { return this.paths.stdin !== ''; }

  /** Copies stdin into the process; EOF comes from a file's end or from containerd's CloseIO. */
  attachStdin(handle: ProcessHandle): void {
    if (!this.hasStdin) return;
    const p = path(this.paths.stdin);
    if (isFifo(p)) {
      this.in = new Socket({ fd: openSync(p, constants.O_RDONLY | constants.O_NONBLOCK), readable: true, writable: false });
      this.stdinKeepalive = openSync(p, constants.O_WRONLY | constants.O_NONBLOCK);
    } else {
      this.in = createReadStream(p);
    }
    this.in.on('data', (d: Buffer) => handle.write(Buffer.from(d)));
    this.in.on('end', () => handle.closeStdin());
    this.in.on('error', () => undefined);
  }

  /** containerd's CloseIO: no more input will come; EOF follows what is still in the FIFO. */
  closeStdin(): void {
    if (this.stdinKeepalive !== undefined) closeSync(this.stdinKeepalive);
    this.stdinKeepalive = undefined;
  }

  /** Closes stdin and flushes the outputs: resolves once everything written has reached the FIFOs. */
  async close(): Promise<void> {
    this.closeStdin();
    this.in?.destroy();
    const flush = (w: Writable | undefined): Promise<void> => new Promise((resolve) => {
      if (!w || w.writableFinished) { resolve(); return; }
      const timer = setTimeout(resolve, 5000);
      w.end(() => { clearTimeout(timer); resolve(); });
    });
    await Promise.all([flush(this.out), flush(this.err)]);
  }
}
