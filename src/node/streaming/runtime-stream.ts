/**
 * One exec or attach session on the container runtime's streaming server (the URL CRI Exec/Attach returns),
 * spoken as Kubernetes' remote command protocol v4 over SPDY: one stream each for the error channel, stdin,
 * stdout, stderr and terminal resizes, as client-go opens them. SPDY rather than containerd's WebSocket
 * variant because only SPDY can end stdin while the command's output and exit status are still to come.
 */
import { request } from 'node:http';
import type { Socket } from 'node:net';
import { unavailable } from '../../errors.js';
import type { StreamOptions } from './params.js';
import { frameType, SpdyClientConnection } from './spdy.js';

export const remoteCommandProtocol = 'v4.channel.k8s.io';

export interface TerminalSize {
  Width: number;
  Height: number;
}

export interface RuntimeStreamOutput {
  stdout(data: Buffer): void;
  stderr(data: Buffer): void;
}

/** How long the runtime may take to upgrade the connection and accept the streams. */
const connectTimeoutMs = 15_000;

function upgrade(url: string, object: string): Promise<{ socket: Socket; head: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: 'POST',
      headers: { Connection: 'Upgrade', Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': remoteCommandProtocol },
    });
    req.on('upgrade', (res, socket, head) => {
      const chosen = res.headers['x-stream-protocol-version'];
      if (chosen === remoteCommandProtocol) return resolve({ socket, head });
      socket.destroy();
      reject(unavailable(object, `the container runtime's streaming server chose protocol ${String(chosen)} instead of ${remoteCommandProtocol}; is containerd older than 1.6?`));
    });
    req.on('response', (res) => {
      const body: Buffer[] = [];
      res.on('data', (c: Buffer) => body.push(c));
      res.on('end', () => reject(unavailable(object, `the container runtime's streaming server refused the session (HTTP ${res.statusCode ?? 0}): ${Buffer.concat(body).toString().trim()}`)));
    });
    req.on('error', (err) => reject(unavailable(object, `cannot reach the container runtime's streaming server at ${new URL(url).origin}: ${err.message}`, err)));
    req.end();
  });
}

export class RuntimeStream {
  private readonly errorBytes: Buffer[] = [];
  private stdinClosed = false;
  /** Resolves with what the runtime wrote on the error channel (a metav1.Status JSON) once the session is over. */
  readonly finished: Promise<Buffer>;

  private constructor(
    private readonly socket: Socket,
    private readonly spdy: SpdyClientConnection,
    private readonly ids: { error: number; stdin?: number; stdout?: number; stderr?: number; resize?: number },
  ) {
    this.finished = new Promise((resolve) => socket.once('close', () => resolve(Buffer.concat(this.errorBytes))));
  }

  /**
   * Connects to a streaming URL and opens the streams `opts` asks for (they must match the CRI request that
   * made the URL); resolves when the runtime has accepted them all. `object` names the container in errors.
   */
  static async connect(url: string, opts: StreamOptions, output: RuntimeStreamOutput, object: string): Promise<RuntimeStream> {
    const { socket, head } = await upgrade(url, object);
    const streams = new Map<number, string>();
    let session: RuntimeStream | undefined;
    const replied = new Set<number>();
    let accepted: () => void = () => undefined;
    let refused: (err: Error) => void = () => undefined;
    const ready = new Promise<void>((resolve, reject) => { accepted = resolve; refused = reject; });
    const spdy = new SpdyClientConnection(socket, head, {
      data: (id, data) => {
        const kind = streams.get(id);
        if (kind === 'error') session?.errorBytes.push(data);
        else if (kind === 'stdout') output.stdout(data);
        else if (kind === 'stderr') output.stderr(data);
      },
      control: (type, _flags, payload) => {
        const id = payload.length >= 4 ? payload.readUInt32BE(0) & 0x7fffffff : 0;
        if (type === frameType.synReply && streams.has(id)) {
          replied.add(id);
          if (replied.size === streams.size) accepted();
        } else if (type === frameType.rstStream && streams.has(id) && !replied.has(id)) {
          refused(unavailable(object, `the container runtime refused the ${streams.get(id) ?? ''} stream of the session`));
        } else if (type === frameType.goAway) {
          // The runtime sends GOAWAY after the status and the last output: the session is over.
          socket.end();
        }
      },
    });
    const open = (kind: string): number => {
      const id = spdy.openStream({ streamType: kind });
      streams.set(id, kind);
      return id;
    };
    // client-go's order: the error stream first, so that a failure to start can be reported on it.
    const ids = {
      error: open('error'),
      ...(opts.stdin ? { stdin: open('stdin') } : {}),
      ...(opts.stdout ? { stdout: open('stdout') } : {}),
      ...(opts.stderr ? { stderr: open('stderr') } : {}),
      ...(opts.tty ? { resize: open('resize') } : {}),
    };
    session = new RuntimeStream(socket, spdy, ids);
    const timer = setTimeout(() => refused(unavailable(object, `the container runtime did not accept the session's streams within ${connectTimeoutMs / 1000} s`)), connectTimeoutMs);
    socket.once('close', () => refused(unavailable(object, 'the container runtime closed the session before accepting its streams')));
    socket.on('error', () => undefined);
    try {
      await ready;
    } catch (err) {
      socket.destroy();
      throw err;
    } finally {
      clearTimeout(timer);
    }
    return session;
  }

  writeStdin(data: Buffer): void {
    if (this.ids.stdin !== undefined && !this.stdinClosed && data.length > 0) this.spdy.data(this.ids.stdin, data);
  }

  /** Ends the command's stdin (a FIN on the stdin stream); the command reads EOF. */
  closeStdin(): void {
    if (this.ids.stdin === undefined || this.stdinClosed) return;
    this.stdinClosed = true;
    this.spdy.data(this.ids.stdin, Buffer.alloc(0), true);
  }

  resize(size: TerminalSize): void {
    if (this.ids.resize !== undefined) this.spdy.data(this.ids.resize, Buffer.from(`${JSON.stringify({ Width: size.Width, Height: size.Height })}\n`));
  }

  /** Drops the session (the client went away); the runtime sees the connection close. */
  close(): void {
    this.socket.destroy();
  }
}
