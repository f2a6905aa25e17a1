/**
 * The server end of Kubernetes' port-forward protocol `portforward.k8s.io` on a SPDY connection, as kubelet
 * serves it (client-go tools/portforward at the other end). Per forwarded connection the client opens an `error`
 * and a `data` stream carrying the same `port` and `requestID` headers; each is accepted at once, the two are
 * paired by requestID, the target port is connected, and the data stream is relayed to and from it with
 * half-closes passed on. What goes wrong with one connection is written on its error stream (kubectl prints it,
 * and kubectl ≥ 1.30 then drops the whole port-forward); once the far end has finished sending, the data and
 * error streams are ended, which is what lets kubectl close its local connection.
 */
import type { Duplex, Readable } from 'node:stream';
import { z } from 'zod';
import type { Logger } from '../../log.js';
import { SpdyConnection, type SpdyStream } from './spdy.js';

export const portForwardProtocol = 'portforward.k8s.io';

/** One connection to the forwarded port. */
export interface ForwardedConnection {
  /** Bytes to and from the port; end() half-closes towards it. */
  data: Duplex;
  /** What the far end reports about this connection (a runtime's own error stream), when it has such a channel. */
  errors?: Readable;
}

/** Where a session's connections go: the pod's address, or the runtime's own port-forward. */
export interface PortForwardTarget {
  /** Connects to `port`; rejects with an error whose message is what the client is shown. */
  connect(port: number, requestId: string): Promise<ForwardedConnection>;
  /** Resolves if the target goes away on its own (the runtime's connection dropped); the session then ends. */
  readonly closed?: Promise<void>;
  /** Releases what the target holds for the session. */
  close(): void;
}

export interface PortForwardSessionOptions {
  /** `pod ns/p`, for messages. */
  object: string;
  log: Logger;
  /** How long the second stream of a pair may take to arrive (kubelet's streamCreationTimeout, 30 s). */
  streamCreationTimeoutMs?: number;
}

/** Stream headers as they arrive (SPDY lower-cases names): client-go's streamType, port and requestID. */
const streamHeaders = z.object({
  streamtype: z.enum(['data', 'error']),
  port: z.string().regex(/^\d+$/, 'must be a port number').transform(Number).pipe(z.number().int().min(1).max(65535)),
  requestid: z.string().min(1).optional(),
});

interface Pair {
  requestId: string;
  port: number;
  data?: SpdyStream;
  error?: SpdyStream;
  timer: NodeJS.Timeout;
}

/** Resolves when `stream` will emit nothing more: its end, or its close after an abort. */
const readDone = (stream: Readable): Promise<void> => new Promise((resolve) => {
  if (stream.readableEnded || stream.destroyed) return resolve();
  stream.once('end', resolve);
  stream.once('close', resolve);
});

/**
 * Serves port-forward on an upgraded socket until the client goes away (or the target does), then releases the
 * target. `head` is what the client sent after its upgrade request.
 */
export async function servePortForward(socket: Duplex, head: Buffer, target: PortForwardTarget, opts: PortForwardSessionOptions): Promise<void> {
  const { object, log } = opts;
  const pairs = new Map<string, Pair>();
  const forwards = new Set<ForwardedConnection>();

  const failPair = (pair: Pair, message: string): void => {
    log.info('port-forward connection failed', { object, port: pair.port, requestId: pair.requestId, message });
    pair.error?.end(message);
    pair.data?.end();
  };

  const forward = async (pair: Pair, data: SpdyStream, error: SpdyStream): Promise<void> => {
    let remote: ForwardedConnection;
    try {
      remote = await target.connect(pair.port, pair.requestId);
    } catch (err) {
      // The object is named once, here: the target's message says what failed on it.
      failPair(pair, `error forwarding port ${pair.port} to ${object}: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    if (data.destroyed) {
      remote.data.destroy();
      return;
    }
    forwards.add(remote);
    const far = remote.data;
    far.on('error', (err: Error) => {
      // A connection that breaks before it has finished sending is reported, as kubelet does.
      if (!far.readableEnded && error.writable) error.write(`error forwarding port ${pair.port} to ${object}: ${err.message}`);
    });
    remote.errors?.on('data', (chunk: Buffer) => {
      if (error.writable) error.write(chunk);
    });
    remote.errors?.on('error', () => undefined);
    data.pipe(far);
    far.pipe(data);
    // The user's side is gone (closed, or reset as kubectl ≥ 1.32 does once it has read everything).
    data.once('close', () => far.destroy());
    await Promise.all([readDone(far), remote.errors ? readDone(remote.errors) : undefined]);
    if (!data.writableEnded) data.end();
    error.end();
    await readDone(data);
    far.destroy();
    forwards.delete(remote);
  };

  const onStream = (stream: SpdyStream): void => {
    const parsed = streamHeaders.safeParse(stream.headers);
    if (!parsed.success) {
      log.info('refused a port-forward stream', { object, headers: stream.headers, problems: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) });
      stream.reject();
      return;
    }
    stream.accept();
    stream.on('error', () => undefined);
    const { streamtype: kind, port } = parsed.data;
    // Clients older than request ids open the two streams back to back (kubelet's rule).
    const requestId = parsed.data.requestid ?? String(kind === 'error' ? stream.id : stream.id - 2);
    let pair = pairs.get(requestId);
    if (!pair) {
      const created: Pair = {
        requestId, port,
        timer: setTimeout(() => {
          pairs.delete(requestId);
          failPair(created, `timed out waiting for the ${created.data ? 'error' : 'data'} stream of request ${requestId} to ${object}`);
        }, opts.streamCreationTimeoutMs ?? 30_000),
      };
      pair = created;
      pairs.set(requestId, pair);
    }
    if (pair[kind]) {
      pair.error?.write(`error processing stream for request ${requestId}: ${kind} stream already assigned`);
      stream.abort();
      return;
    }
    pair[kind] = stream;
    // The client sends nothing on its error stream (it closes its half at once); reading lets the stream end.
    if (kind === 'error') stream.resume();
    const { data, error } = pair;
    if (!data || !error) return;
    clearTimeout(pair.timer);
    pairs.delete(requestId);
    const complete = pair;
    void forward(complete, data, error).catch((err: unknown) => {
      log.warn('port-forward connection failed', { object, port: complete.port, err });
      data.destroy();
      error.destroy();
    });
  };

  const connection = new SpdyConnection(socket, head, { role: 'server', peer: `the port-forward client of ${object}`, onStream });
  target.closed?.then(() => connection.destroy(), () => connection.destroy());
  await connection.closed;
  for (const pair of pairs.values()) clearTimeout(pair.timer);
  for (const remote of forwards) remote.data.destroy();
  target.close();
  if (connection.protocolError) log.warn('port-forward client broke the protocol', { object, why: connection.protocolError });
}
