/**
 * SPDY/3.1 as Kubernetes' streaming protocols use it (moby/spdystream at the other end), for both ends of a
 * connection: the client side towards the container runtime's streaming server (exec, attach, port-forward), the
 * server side for port-forward clients (kubectl through the API server). Streams are Node duplex streams: data
 * frames in and out, a FIN as end-of-stream, RST_STREAM as destroy. No maintained SPDY package exists for Node,
 * hence this file.
 *
 * Like spdystream, it does no per-stream flow control (WINDOW_UPDATE and SETTINGS are read and ignored):
 * backpressure is the connection's. A stream whose reader is full pauses the socket until it is read again; a
 * write waits until the socket has drained.
 */
import { request } from 'node:http';
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { unavailable } from '../../errors.js';
import { HeaderBlockError, HeaderDecoder, HeaderEncoder, type SpdyHeaders } from './spdy-headers.js';

export type { SpdyHeaders } from './spdy-headers.js';

const version = 3;
const controlBit = 0x8000;
const flagFin = 0x01;
const maxLength = 0xffffff;
/** Data is sent in frames of at most this much, so that a big write does not hold up the other streams. */
const dataFrameBytes = 64 * 1024;

export const frameType = { synStream: 1, synReply: 2, rstStream: 3, settings: 4, ping: 6, goAway: 7, headers: 8, windowUpdate: 9 } as const;
export const rstStatus = { protocolError: 1, invalidStream: 2, refusedStream: 3, cancel: 5, internalError: 6 } as const;
const goAwayProtocolError = 1;

export interface SpdyConnectionOptions {
  /** Which end this is: the client opens odd-numbered streams, the server even ones. */
  role: 'client' | 'server';
  /** The other end, for messages: `the container runtime's streaming server`. */
  peer: string;
  /** A stream the peer opened: accept() or reject() it. Without a handler every such stream is refused. */
  onStream?: (stream: SpdyStream) => void;
  /** The peer sent GOAWAY: it opens no more streams and accepts none; the open ones go on. */
  onGoAway?: () => void;
}

/** One stream: readable is what the peer sends (ends at its FIN), writable goes to the peer (end() is our FIN). */
export class SpdyStream extends Duplex {
  private replied: boolean;
  private reset = false;
  private sentFin = false;
  private finReceived = false;
  /** Settles when the peer answers a stream we opened (SYN_REPLY) or refuses it (RST_STREAM). */
  readonly reply: Promise<void>;
  private settleReply: (err?: Error) => void = () => undefined;

  constructor(private readonly conn: SpdyConnection, readonly id: number, readonly headers: Readonly<SpdyHeaders>, replied: boolean) {
    super({ allowHalfOpen: true });
    this.replied = replied;
    this.reply = replied ? Promise.resolve() : new Promise((resolve, reject) => {
      this.settleReply = (err) => (err ? reject(err) : resolve());
    });
    // Nobody needs to wait for the reply of a stream that is used another way; a refusal is also a destroy.
    this.reply.catch(() => undefined);
  }

  /** Answers a stream the peer opened (SYN_REPLY); from then on both sides may send. */
  accept(): void {
    if (this.replied || this.destroyed) return;
    this.replied = true;
    this.conn.sendReply(this.id);
  }

  /** Refuses a stream the peer opened (RST_STREAM REFUSED_STREAM). */
  reject(): void {
    this.abort(rstStatus.refusedStream);
  }

  /** Abandons the stream both ways (RST_STREAM with `status`). */
  abort(status: number = rstStatus.cancel): void {
    if (!this.reset) {
      this.reset = true;
      this.conn.sendReset(this.id, status);
    }
    this.destroy();
  }

  override _read(): void {
    this.conn.readingResumed(this);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.reset) return callback();
    this.conn.sendData(this.id, chunk, false, () => callback());
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.reset) return callback();
    this.sentFin = true;
    this.conn.sendData(this.id, Buffer.alloc(0), true, () => callback());
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    // Destroyed before both FINs went by: the peer is told to forget the stream.
    if (!this.reset && !(this.sentFin && this.finReceived)) {
      this.reset = true;
      this.conn.sendReset(this.id, rstStatus.cancel);
    }
    this.settleReply(unavailable(this.conn.peer, `${this.conn.peer} reset stream ${this.id} before answering it`));
    this.conn.forget(this);
    callback(err);
  }

  /**
   * @internal The connection is gone: nothing more can be sent. What the peer finished sending is still read to
   * its end; a stream it had not finished is destroyed.
   */
  connectionClosed(): void {
    this.reset = true;
    if (!this.finReceived) {
      this.destroy();
      return;
    }
    this.settleReply(unavailable(this.conn.peer, `the connection to ${this.conn.peer} closed before it answered stream ${this.id}`));
    if (!this.writableEnded) this.end();
  }

  /** @internal The peer's SYN_REPLY. */
  replyReceived(): void {
    this.replied = true;
    this.settleReply();
  }

  /** @internal A data frame from the peer. */
  received(data: Buffer, fin: boolean): void {
    if (this.destroyed || this.finReceived) return;
    if (data.length > 0 && !this.push(data)) this.conn.readingPaused(this);
    if (fin) {
      this.finReceived = true;
      this.push(null);
    }
  }

  /** @internal The peer's RST_STREAM. */
  resetReceived(status: number): void {
    this.reset = true;
    this.settleReply(unavailable(this.conn.peer, `${this.conn.peer} refused stream ${this.id} (RST_STREAM status ${status})`));
    this.destroy();
  }
}

/** One SPDY connection on an upgraded socket. */
export class SpdyConnection {
  private readonly streams = new Map<number, SpdyStream>();
  private readonly encoder = new HeaderEncoder();
  private readonly decoder = new HeaderDecoder();
  private readonly pausedBy = new Set<SpdyStream>();
  private drainWaiters: Array<() => void> = [];
  private pending: Buffer = Buffer.alloc(0);
  private nextStreamId: number;
  private lastPeerStreamId = 0;
  private isClosed = false;
  /** Resolves when the socket has closed; every stream is destroyed by then. */
  readonly closed: Promise<void>;
  /** Why the connection was dropped, when it was for a protocol error. */
  protocolError: string | undefined;

  constructor(private readonly socket: Duplex, head: Buffer, private readonly opts: SpdyConnectionOptions) {
    this.nextStreamId = opts.role === 'client' ? 1 : 2;
    this.closed = new Promise((resolve) => socket.once('close', () => {
      this.isClosed = true;
      for (const stream of [...this.streams.values()]) stream.connectionClosed();
      for (const waiter of this.drainWaiters.splice(0)) waiter();
      resolve();
    }));
    socket.on('error', () => undefined);
    socket.on('drain', () => {
      for (const waiter of this.drainWaiters.splice(0)) waiter();
    });
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    if (head.length > 0) this.receive(head);
  }

  get peer(): string {
    return this.opts.peer;
  }

  /** Opens a stream (header names go lower-cased on the wire) and resolves once the peer has answered it. */
  async openStream(headers: SpdyHeaders): Promise<SpdyStream> {
    if (this.isClosed) throw unavailable(this.peer, `the connection to ${this.peer} is closed`);
    const id = this.nextStreamId;
    this.nextStreamId += 2;
    const stream = new SpdyStream(this, id, headers, false);
    this.streams.set(id, stream);
    const ids = Buffer.alloc(10);
    ids.writeUInt32BE(id, 0);
    this.control(frameType.synStream, 0, Buffer.concat([ids, this.encoder.encode(headers)]));
    await stream.reply;
    return stream;
  }

  /** Drops the connection and every stream on it. */
  destroy(): void {
    this.socket.destroy();
  }

  /** @internal */
  sendReply(id: number): void {
    const ids = Buffer.alloc(4);
    ids.writeUInt32BE(id, 0);
    this.control(frameType.synReply, 0, Buffer.concat([ids, this.encoder.encode({})]));
  }

  /** @internal */
  sendReset(id: number, status: number): void {
    const payload = Buffer.alloc(8);
    payload.writeUInt32BE(id, 0);
    payload.writeUInt32BE(status, 4);
    this.control(frameType.rstStream, 0, payload);
  }

  /** @internal Data on a stream; `written` runs once the socket can take more. */
  sendData(id: number, data: Buffer, fin: boolean, written: () => void): void {
    let at = 0;
    let ok = true;
    do {
      const part = data.subarray(at, at + dataFrameBytes);
      at += part.length;
      const head = Buffer.alloc(8);
      head.writeUInt32BE(id & 0x7fffffff, 0);
      head.writeUInt32BE((((fin && at >= data.length ? flagFin : 0) << 24) | part.length) >>> 0, 4);
      ok = this.write(Buffer.concat([head, part]));
    } while (at < data.length);
    if (ok || this.isClosed) written();
    else this.drainWaiters.push(written);
  }

  /** @internal A stream's reader is full: stop reading the socket until it has room again. */
  readingPaused(stream: SpdyStream): void {
    this.pausedBy.add(stream);
    this.socket.pause();
  }

  /** @internal */
  readingResumed(stream: SpdyStream): void {
    if (this.pausedBy.delete(stream) && this.pausedBy.size === 0) this.socket.resume();
  }

  /** @internal */
  forget(stream: SpdyStream): void {
    this.streams.delete(stream.id);
    this.readingResumed(stream);
  }

  private write(frame: Buffer): boolean {
    if (this.isClosed || this.socket.destroyed) return true;
    return this.socket.write(frame);
  }

  private control(type: number, flags: number, payload: Buffer): void {
    const head = Buffer.alloc(8);
    head.writeUInt16BE(controlBit | version, 0);
    head.writeUInt16BE(type, 2);
    head.writeUInt32BE(((flags << 24) | payload.length) >>> 0, 4);
    this.write(Buffer.concat([head, payload]));
  }

  private receive(chunk: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    while (this.pending.length >= 8 && !this.isClosed) {
      const length = this.pending.readUInt32BE(4) & maxLength;
      if (this.pending.length < 8 + length) return;
      const flags = this.pending[4] ?? 0;
      const first = this.pending.readUInt32BE(0);
      const payload = this.pending.subarray(8, 8 + length);
      this.pending = this.pending.subarray(8 + length);
      try {
        if ((first & 0x80000000) === 0) this.streams.get(first)?.received(payload, (flags & flagFin) !== 0);
        else this.controlFrame(first & 0xffff, flags, payload);
      } catch (err) {
        if (!(err instanceof HeaderBlockError)) throw err;
        this.fail(err.message);
      }
    }
  }

  private controlFrame(type: number, flags: number, payload: Buffer): void {
    const id = payload.length >= 4 ? payload.readUInt32BE(0) & 0x7fffffff : 0;
    switch (type) {
      case frameType.synStream: {
        // Decoded even when refused: every header block continues the connection's zlib stream.
        const headers = this.decoder.decode(payload.subarray(10));
        this.peerStream(id, headers, (flags & flagFin) !== 0);
        return;
      }
      case frameType.synReply:
        this.decoder.decode(payload.subarray(4));
        this.streams.get(id)?.replyReceived();
        return;
      case frameType.headers:
        this.decoder.decode(payload.subarray(4));
        return;
      case frameType.rstStream:
        this.streams.get(id)?.resetReceived(payload.length >= 8 ? payload.readUInt32BE(4) : 0);
        return;
      case frameType.ping:
        // Clients number their pings odd, servers even; we send none of our own, so only the peer's are answered.
        if (id % 2 === (this.opts.role === 'server' ? 1 : 0)) this.control(frameType.ping, 0, Buffer.from(payload));
        return;
      case frameType.goAway:
        this.opts.onGoAway?.();
        return;
      default:
        // SETTINGS and WINDOW_UPDATE: flow control is not used (see the module comment).
        return;
    }
  }

  private peerStream(id: number, headers: SpdyHeaders, fin: boolean): void {
    const peerParity = this.opts.role === 'server' ? 1 : 0;
    if (id === 0 || id % 2 !== peerParity || id <= this.lastPeerStreamId) {
      this.fail(`${this.peer} opened stream ${id}, which is out of order or not its to open`);
      return;
    }
    this.lastPeerStreamId = id;
    const stream = new SpdyStream(this, id, headers, false);
    this.streams.set(id, stream);
    if (fin) stream.received(Buffer.alloc(0), true);
    if (this.opts.onStream) this.opts.onStream(stream);
    else stream.reject();
  }

  /** A protocol error: GOAWAY, then the connection is dropped. */
  private fail(why: string): void {
    this.protocolError = why;
    const payload = Buffer.alloc(8);
    payload.writeUInt32BE(this.lastPeerStreamId, 0);
    payload.writeUInt32BE(goAwayProtocolError, 4);
    this.control(frameType.goAway, 0, payload);
    this.socket.end();
    this.isClosed = true;
  }
}

/** `SPDY/3.1` upgrade headers asking for `protocol` (apimachinery util/httpstream). */
export const spdyUpgradeHeaders = (protocol: string): Record<string, string> => ({ Connection: 'Upgrade', Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': protocol });

/**
 * Upgrades a POST to `url` (a runtime streaming URL) to SPDY/3.1 with sub-protocol `protocol`, and starts the
 * client end of a connection on it. `peer` names the server in errors.
 */
export function dialSpdy(url: string, protocol: string, peer: string, opts: Omit<SpdyConnectionOptions, 'role' | 'peer'> = {}): Promise<SpdyConnection> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: spdyUpgradeHeaders(protocol) });
    req.on('upgrade', (res, socket: Socket, head: Buffer) => {
      const chosen = res.headers['x-stream-protocol-version'];
      if (chosen === protocol) return resolve(new SpdyConnection(socket, head, { ...opts, role: 'client', peer }));
      socket.destroy();
      reject(unavailable(peer, `${peer} chose protocol ${String(chosen)} instead of ${protocol}; is containerd older than 1.6?`));
    });
    req.on('response', (res) => {
      const body: Buffer[] = [];
      res.on('data', (c: Buffer) => body.push(c));
      res.on('end', () => reject(unavailable(peer, `${peer} refused the session (HTTP ${res.statusCode ?? 0}): ${Buffer.concat(body).toString().trim()}`)));
    });
    req.on('error', (err) => reject(unavailable(peer, `cannot reach ${peer} at ${new URL(url).origin}: ${err.message}`, err)));
    req.end();
  });
}
