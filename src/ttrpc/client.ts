/** ttrpc client: odd stream ids, replies matched by id, status codes turned into TtrpcError. */
import { connect, type Socket } from 'node:net';
import { unavailable } from '../errors.js';
import { Code } from './codes.js';
import { decodeResponse, encodeRequest, TtrpcError } from './envelope.js';
import { encodeTtrpcFrame, MessageType, TtrpcFrameReader } from './framing.js';

type Pending = { resolve: (b: Buffer) => void; reject: (e: Error) => void };

export class TtrpcClient {
  private nextStream = 1;
  private readonly pending = new Map<number, Pending>();

  private constructor(private readonly socket: Socket, address: string) {
    const reader = new TtrpcFrameReader((f) => {
      if (f.type !== MessageType.Response) return;
      const p = this.pending.get(f.streamId);
      if (!p) return;
      this.pending.delete(f.streamId);
      const r = decodeResponse(f.payload);
      if (r.status && r.status.code !== Code.OK) p.reject(new TtrpcError(r.status.code, r.status.message));
      else p.resolve(r.payload);
    }, (o) => {
      this.pending.get(o.streamId)?.reject(new TtrpcError(Code.ResourceExhausted, `response of ${o.length} bytes is too large`));
      this.pending.delete(o.streamId);
    });
    socket.on('data', (d: Buffer) => reader.push(d));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      for (const p of this.pending.values()) p.reject(unavailable(`ttrpc ${address}`, 'the connection closed'));
      this.pending.clear();
    });
  }

  static connect(path: string): Promise<TtrpcClient> {
    return new Promise((resolve, reject) => {
      const s = connect(path);
      s.once('connect', () => resolve(new TtrpcClient(s, path)));
      s.once('error', (err) => reject(unavailable(`ttrpc ${path}`, `cannot connect: ${err.message}`, err)));
    });
  }

  call(service: string, method: string, payload: Uint8Array, metadata: Record<string, string> = {}): Promise<Buffer> {
    const streamId = this.nextStream;
    this.nextStream += 2;
    return new Promise((resolve, reject) => {
      this.pending.set(streamId, { resolve, reject });
      const req = encodeRequest({
        service, method, payload: Buffer.from(payload),
        metadata: Object.entries(metadata).map(([key, value]) => ({ key, value })),
      });
      this.socket.write(encodeTtrpcFrame(streamId, MessageType.Request, req));
    });
  }

  close(): void { this.socket.destroy(); }
}
