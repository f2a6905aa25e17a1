/**
 * One exec or attach session on the container runtime's streaming server (the URL CRI Exec/Attach returns),
 * spoken as Kubernetes' remote command protocol v4 over SPDY: one stream each for the error channel, stdin,
 * stdout, stderr and terminal resizes, as client-go opens them. SPDY rather than containerd's WebSocket
 * variant because only SPDY can end stdin while the command's output and exit status are still to come.
 */
import type { Readable, Writable } from 'node:stream';
import { unavailable } from '../../errors.js';
import type { StreamOptions } from './params.js';
import { dialSpdy, type SpdyConnection, type SpdyStream } from './spdy.js';

export const remoteCommandProtocol = 'v4.channel.k8s.io';

export interface TerminalSize {
  Width: number;
  Height: number;
}

/** How long the runtime may take to upgrade the connection and accept the streams. */
const connectTimeoutMs = 15_000;

/** Resolves once `stream` has emitted all it will (its end, or its close after an abort). */
const drained = (stream: Readable | undefined): Promise<void> => new Promise((resolve) => {
  if (!stream || stream.readableEnded || stream.destroyed) return resolve();
  stream.once('end', resolve);
  stream.once('close', resolve);
});

export class RuntimeStream {
  /** The command's stdin, when the session has one; end() closes it (a FIN: the command reads EOF). */
  readonly stdin: Writable | undefined;
  readonly stdout: Readable | undefined;
  readonly stderr: Readable | undefined;
  /**
   * Resolves, once the session is over and stdout and stderr have been read to their end, with what the
   * runtime wrote on the error channel (a metav1.Status JSON).
   */
  readonly finished: Promise<Buffer>;

  private constructor(private readonly spdy: SpdyConnection, error: SpdyStream, private readonly streams: Partial<Record<'stdin' | 'stdout' | 'stderr' | 'resize', SpdyStream>>) {
    const errorBytes: Buffer[] = [];
    error.on('data', (d: Buffer) => errorBytes.push(d));
    error.on('error', () => undefined);
    for (const s of Object.values(streams)) s.on('error', () => undefined);
    this.stdin = streams.stdin;
    this.stdout = streams.stdout;
    this.stderr = streams.stderr;
    this.finished = Promise.all([spdy.closed, drained(error), drained(this.stdout), drained(this.stderr)]).then(() => Buffer.concat(errorBytes));
  }

  /**
   * Connects to a streaming URL and opens the streams `opts` asks for (they must match the CRI request that
   * made the URL); resolves when the runtime has accepted them all. `object` names the container in errors.
   */
  static async connect(url: string, opts: StreamOptions, object: string): Promise<RuntimeStream> {
    const peer = `the container runtime's streaming server for ${object}`;
    // The runtime sends GOAWAY after the status and the last output: the session is over.
    let spdy: SpdyConnection | undefined;
    spdy = await dialSpdy(url, remoteCommandProtocol, peer, { onGoAway: () => spdy?.destroy() });
    const connection = spdy;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(unavailable(object, `the container runtime did not accept the session's streams within ${connectTimeoutMs / 1000} s`)), connectTimeoutMs);
    });
    const closed = connection.closed.then(() => {
      throw unavailable(object, `the container runtime closed the session before accepting its streams${connection.protocolError ? `: ${connection.protocolError}` : ''}`);
    });
    const open = (kind: string): Promise<SpdyStream> => connection.openStream({ streamType: kind });
    try {
      // client-go's order: the error stream first, so that a failure to start can be reported on it.
      const opened = Promise.all([
        open('error'),
        opts.stdin ? open('stdin') : undefined,
        opts.stdout ? open('stdout') : undefined,
        opts.stderr ? open('stderr') : undefined,
        opts.tty ? open('resize') : undefined,
      ]);
      const [error, stdin, stdout, stderr, resize] = await Promise.race([opened, timeout, closed]);
      return new RuntimeStream(connection, error, { ...(stdin ? { stdin } : {}), ...(stdout ? { stdout } : {}), ...(stderr ? { stderr } : {}), ...(resize ? { resize } : {}) });
    } catch (err) {
      connection.destroy();
      throw err;
    } finally {
      clearTimeout(timer);
      closed.catch(() => undefined);
    }
  }

  resize(size: TerminalSize): void {
    this.streams.resize?.write(Buffer.from(`${JSON.stringify({ Width: size.Width, Height: size.Height })}\n`));
  }

  /**
   * Drops the session (the client went away); the runtime sees the connection close. Output still buffered
   * here is dropped too, so that `finished` does not wait for a reader that is gone.
   */
  close(): void {
    this.stdout?.destroy();
    this.stderr?.destroy();
    this.spdy.destroy();
  }
}
