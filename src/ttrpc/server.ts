/**
 * ttrpc server over a unix socket: decodes requests, dispatches to the handler registered for
 * (service, method), and answers each stream with a Response. Errors map to gRPC codes here, at the edge.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { rm } from 'node:fs/promises';
import { isSandpodError, describeError } from '../errors.js';
import type { Logger } from '../log.js';
import { Code, codeForKind } from './codes.js';
import { decodeRequest, encodeResponse, TtrpcError } from './envelope.js';
import { encodeTtrpcFrame, MAX_PAYLOAD, MessageType, TtrpcFrameReader } from './framing.js';

export interface CallContext { metadata: Map<string, string>; timeoutNano: number }
export type MethodHandler = (payload: Buffer, ctx: CallContext) => Promise<Uint8Array>;

export class TtrpcServer {
  private readonly methods = new Map<string, MethodHandler>();
  private readonly sockets = new Set<Socket>();
  private server: Server | undefined;

  constructor(private readonly log: Logger) {}

  register(service: string, handlers: Record<string, MethodHandler>): void {
    for (const [method, h] of Object.entries(handlers)) this.methods.set(`${service}/${method}`, h);
  }

  async listen(path: string): Promise<void> {
    await rm(path, { force: true });
    this.server = createServer((s) => this.serve(s));
    await new Promise<void>((resolve, reject) => {
      this.server?.once('error', reject);
      this.server?.listen(path, resolve);
    });
  }

  serve(socket: Socket): void {
    this.sockets.add(socket);
    const reply = (streamId: number, status: { code: number; message: string } | undefined, payload?: Uint8Array): void => {
      if (!socket.destroyed) socket.write(encodeTtrpcFrame(streamId, MessageType.Response, encodeResponse({ ...(status ? { status } : {}), ...(payload ? { payload } : {}) })));
    };
    const reader = new TtrpcFrameReader(
      (f) => {
        if (f.type !== MessageType.Request) return;
        if (f.streamId % 2 === 0) { reply(f.streamId, { code: Code.InvalidArgument, message: `stream id ${f.streamId} is even; clients use odd ids` }); return; }
        void this.dispatch(f.payload).then(
          (payload) => reply(f.streamId, undefined, payload),
          (err: unknown) => reply(f.streamId, statusOf(err)),
        );
      },
      (o) => reply(o.streamId, { code: Code.ResourceExhausted, message: `message of ${o.length} bytes exceeds the ${MAX_PAYLOAD}-byte limit` }),
    );
    socket.on('data', (d: Buffer) => reader.push(d));
    socket.on('error', () => undefined);
    socket.on('close', () => this.sockets.delete(socket));
  }

  private async dispatch(raw: Buffer): Promise<Uint8Array> {
    const req = decodeRequest(raw);
    const handler = this.methods.get(`${req.service}/${req.method}`);
    if (!handler) throw new TtrpcError(Code.Unimplemented, `${req.service}.${req.method} is not implemented`);
    this.log.debug('ttrpc call', { service: req.service, method: req.method });
    return handler(req.payload, { metadata: new Map(req.metadata.map((kv) => [kv.key, kv.value])), timeoutNano: req.timeout_nano });
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

function statusOf(err: unknown): { code: number; message: string } {
  if (err instanceof TtrpcError) return { code: err.code, message: err.message };
  if (isSandpodError(err)) return { code: codeForKind(err.kind), message: describeError(err) };
  return { code: Code.Internal, message: describeError(err) };
}
