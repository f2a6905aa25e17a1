/**
 * The client half of the SPDY/3.1 framing that Kubernetes' remote command servers speak (moby/spdystream on the
 * server side), and only that: streams opened by the client with a header block, data both ways, half-close
 * with FIN, and answering pings. Server push, priorities, settings and flow control are not used by those
 * servers and are not implemented. No maintained SPDY package exists for Node, and containerd's WebSocket
 * variant cannot half-close stdin, hence this file.
 *
 * Header blocks are sent uncompressed inside a zlib stream (stored deflate blocks, each ended like a sync flush):
 * the server's decompressor accepts that, and our side never has to compress. Header blocks the server sends are skipped unread.
 */
import type { Socket } from 'node:net';

const version = 3;
const controlBit = 0x8000;
const flagFin = 0x01;
const maxLength = 0xffffff;

export const frameType = { synStream: 1, synReply: 2, rstStream: 3, settings: 4, ping: 6, goAway: 7, headers: 8, windowUpdate: 9 } as const;

/** A zlib stream header that names the SPDY/3 header dictionary (its Adler-32 is 0xe3c6a7c2, SPDY/3 §2.6.10.1). */
const zlibHeader = Buffer.from([0x78, 0xbb, 0xe3, 0xc6, 0xa7, 0xc2]);
/**
 * An empty stored block: what zlib's Z_SYNC_FLUSH ends each header block with. Go's inflater returns what it has
 * when it meets one; without it, it reads on past the frame for the next block and fails for good.
 */
const syncFlush = Buffer.from([0x00, 0x00, 0x00, 0xff, 0xff]);

export interface SpdyFrameHandler {
  /** A data frame for a stream; `fin` marks the server's last one. */
  data(streamId: number, data: Buffer, fin: boolean): void;
  /** A control frame other than a ping (which the connection answers itself). */
  control(type: number, flags: number, payload: Buffer): void;
}

/** One SPDY connection on an upgraded socket, seen from the client. */
export class SpdyClientConnection {
  private pending: Buffer = Buffer.alloc(0);
  private headerStreamStarted = false;
  private nextStreamId = 1;

  constructor(private readonly socket: Socket, head: Buffer, private readonly handler: SpdyFrameHandler) {
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    if (head.length > 0) this.receive(head);
  }

  /** Opens a stream with the given headers (names are lower-cased on the wire) and returns its id. */
  openStream(headers: Record<string, string>): number {
    const id = this.nextStreamId;
    this.nextStreamId += 2;
    const ids = Buffer.alloc(10);
    ids.writeUInt32BE(id, 0);
    ids.writeUInt32BE(0, 4);
    this.control(frameType.synStream, 0, Buffer.concat([ids, this.headerBlock(headers)]));
    return id;
  }

  /** Sends data on a stream; with `fin` (and possibly no data) it half-closes the stream. */
  data(streamId: number, data: Buffer, fin = false): void {
    let at = 0;
    do {
      const part = data.subarray(at, at + maxLength);
      at += part.length;
      const head = Buffer.alloc(8);
      head.writeUInt32BE(streamId & 0x7fffffff, 0);
      head.writeUInt32BE((((fin && at >= data.length ? flagFin : 0) << 24) | part.length) >>> 0, 4);
      this.socket.write(Buffer.concat([head, part]));
    } while (at < data.length);
  }

  private control(type: number, flags: number, payload: Buffer): void {
    const head = Buffer.alloc(8);
    head.writeUInt16BE(controlBit | version, 0);
    head.writeUInt16BE(type, 2);
    head.writeUInt32BE(((flags << 24) | payload.length) >>> 0, 4);
    this.socket.write(Buffer.concat([head, payload]));
  }

  /** The name/value block in one stored deflate block, continuing the connection's zlib stream. */
  private headerBlock(headers: Record<string, string>): Buffer {
    const entries = Object.entries(headers);
    const parts: Buffer[] = [u32(entries.length)];
    for (const [name, value] of entries) {
      const n = Buffer.from(name.toLowerCase());
      const v = Buffer.from(value);
      parts.push(u32(n.length), n, u32(v.length), v);
    }
    const block = Buffer.concat(parts);
    if (block.length > 0xffff) throw new RangeError(`SPDY header block of ${block.length} bytes does not fit one stored deflate block`);
    const stored = Buffer.alloc(5);
    stored.writeUInt16LE(block.length, 1);
    stored.writeUInt16LE(~block.length & 0xffff, 3);
    const prefix = this.headerStreamStarted ? Buffer.alloc(0) : zlibHeader;
    this.headerStreamStarted = true;
    return Buffer.concat([prefix, stored, block, syncFlush]);
  }

  private receive(chunk: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    while (this.pending.length >= 8) {
      const length = this.pending.readUInt32BE(4) & maxLength;
      if (this.pending.length < 8 + length) return;
      const flags = this.pending[4] ?? 0;
      const payload = this.pending.subarray(8, 8 + length);
      const first = this.pending.readUInt32BE(0);
      this.pending = this.pending.subarray(8 + length);
      if ((first & 0x80000000) === 0) {
        this.handler.data(first, payload, (flags & flagFin) !== 0);
      } else if ((first & 0xffff) === frameType.ping) {
        this.control(frameType.ping, 0, Buffer.from(payload));
      } else {
        this.handler.control(first & 0xffff, flags, payload);
      }
    }
  }
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n, 0);
  return b;
}
