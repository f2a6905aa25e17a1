/**
 * `containerLogs`: a container's CRI log file as plain text, the way kubelet serves it — since/tail/limit
 * selection, optional timestamps, and with `follow` the lines as they are written until the container has exited
 * and the file is drained.
 */
import { watch, type FSWatcher } from 'node:fs';
import { open } from 'node:fs/promises';
import type { CriClient } from '../../cri/index.js';
import { isSandpodError, notFound } from '../../errors.js';
import { CriLogReader, type LogLine } from './cri-log.js';
import type { LocatedContainer } from './locator.js';
import type { LogOptions } from './params.js';

/** Where log bytes go; `write` resolves once the receiver can take more. */
export interface LogSink {
  write(data: Buffer): Promise<void>;
}

/** How often a follower that saw no new output asks the runtime whether the container still runs. */
const followCheckMs = 500;

/** Selects, formats and counts the lines of one request; `emit` answers false once limitBytes is reached. */
class LogWriter {
  private written = 0;
  constructor(private readonly opts: LogOptions, private readonly sink: LogSink) {}

  wanted(line: LogLine): boolean {
    return this.opts.since === undefined || line.time >= this.opts.since;
  }

  async emit(line: LogLine): Promise<boolean> {
    let data = this.opts.timestamps ? Buffer.concat([Buffer.from(`${line.timestamp} `), line.content]) : line.content;
    const limit = this.opts.limitBytes;
    if (limit !== undefined && this.written + data.length > limit) data = data.subarray(0, limit - this.written);
    this.written += data.length;
    if (data.length > 0) await this.sink.write(data);
    return limit === undefined || this.written < limit;
  }
}

/** Resolves true on the next change to the file, false after `ms` without one or when the request is abandoned. */
function changed(watcher: FSWatcher, ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (result: boolean) => (): void => {
      clearTimeout(timer);
      watcher.off('change', onChange);
      signal.removeEventListener('abort', onAbort);
      resolve(result);
    };
    const onChange = done(true);
    const onAbort = done(false);
    const timer = setTimeout(onAbort, ms);
    watcher.on('change', onChange);
    signal.addEventListener('abort', onAbort);
  });
}

async function stillRunning(cri: CriClient, containerId: string): Promise<boolean> {
  try {
    const { status } = await cri.containerStatus({ container_id: containerId });
    return status?.state === 'CONTAINER_RUNNING';
  } catch (err) {
    if (isSandpodError(err, 'NotFound')) return false;
    throw err;
  }
}

/**
 * Writes the selected log of `container` to `sink`. `object` names the container in errors. Ends when the
 * selection is written, limitBytes is reached, the followed container has exited and its file is drained, or
 * `signal` aborts (the client went away).
 */
export async function serveContainerLogs(cri: CriClient, container: LocatedContainer, object: string, opts: LogOptions, sink: LogSink, signal: AbortSignal): Promise<void> {
  const file = await open(container.logPath, 'r').catch((err: NodeJS.ErrnoException) => {
    throw err.code === 'ENOENT' ? notFound(object, `${object} has no log file yet (${container.logPath}); has the container started?`, err) : err;
  });
  const writer = new LogWriter(opts, sink);
  const reader = new CriLogReader(file);
  const watcher = opts.follow && container.running ? watch(container.logPath) : undefined;
  // A watch that fails (the file removed with its pod) leaves the periodic status check to end the follow.
  watcher?.on('error', () => undefined);
  try {
    // tailLines counts from the end of what is there now, so the first pass is held back until it is read whole.
    const tail: LogLine[] = [];
    const initial = opts.tailLines === undefined ? (line: LogLine) => !writer.wanted(line) || writer.emit(line) : (line: LogLine) => {
      if (writer.wanted(line)) tail.push(line);
      if (tail.length > (opts.tailLines ?? 0)) tail.shift();
      return true;
    };
    if (!(await reader.read(initial))) return;
    for (const line of tail) if (!(await writer.emit(line))) return;
    const more = (line: LogLine): boolean | Promise<boolean> => !writer.wanted(line) || writer.emit(line);
    while (watcher && !signal.aborted) {
      // Quiet for a while: ask whether the container still runs, before reading, so its last writes are read.
      const running = (await changed(watcher, followCheckMs, signal)) || signal.aborted || (await stillRunning(cri, container.containerId));
      if (!(await reader.read(more))) return;
      if (!running) break;
    }
    if (signal.aborted) return;
    for (const line of reader.unfinished()) if (writer.wanted(line) && !(await writer.emit(line))) return;
  } finally {
    watcher?.close();
    await file.close();
  }
}
