/**
 * The node agent's streaming server (docs/node-streaming.md): plain HTTP for `containerLogs`, WebSocket
 * `v5.channel.k8s.io` for `exec` and `attach`, backed by CRI. This file is the transport edge: it decodes each
 * request into a typed one, finds the container through the locator and hands over to container-logs.ts or
 * session.ts; errors become a status code with a plain-text body.
 */
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { CriClient } from '../../cri/index.js';
import { describeError, failedPrecondition, invalid, isSandpodError, notFound, type ErrorKind } from '../../errors.js';
import type { Logger } from '../../log.js';
import { httpCodes } from '../../kube/index.js';
import { serveContainerLogs } from './container-logs.js';
import type { ContainerLocator, LocatedContainer } from './locator.js';
import { parseExecOptions, parseLogOptions, parseStreamOptions, type ExecOptions, type StreamOptions } from './params.js';
import { RuntimeStream, type RuntimeStreamOutput } from './runtime-stream.js';
import { relaySession, userProtocol } from './session.js';

export interface NodeStreamingServerOptions {
  cri: CriClient;
  locator: ContainerLocator;
  log: Logger;
}

type Kind = 'containerLogs' | 'exec' | 'attach';

interface Target {
  kind: Kind;
  namespace: string;
  pod: string;
  container: string;
  query: URLSearchParams;
  /** `container "c" of pod ns/p`, for messages. */
  object: string;
}

const httpCode: Record<ErrorKind, number> = httpCodes;

/** `/{kind}/{namespace}/{pod}/{container}` and its query, or undefined for any other path. */
function parseTarget(url: string | undefined): Target | undefined {
  const u = new URL(url ?? '/', 'http://node');
  const parts = u.pathname.split('/').slice(1);
  const [kind, ...names] = parts;
  if ((kind !== 'containerLogs' && kind !== 'exec' && kind !== 'attach') || names.length !== 3 || names.some((n) => n === '')) return undefined;
  let decoded: string[];
  try {
    decoded = names.map(decodeURIComponent);
  } catch {
    return undefined;
  }
  const [namespace = '', pod = '', container = ''] = decoded;
  return { kind, namespace, pod, container, query: u.searchParams, object: `container "${container}" of pod ${namespace}/${pod}` };
}

export class NodeStreamingServer {
  private readonly server: Server;
  private readonly wss = new WebSocketServer({ noServer: true, handleProtocols: (offered) => (offered.has(userProtocol) ? userProtocol : false) });
  private readonly log: Logger;

  constructor(private readonly opts: NodeStreamingServerOptions) {
    this.log = opts.log;
    this.server = createServer((req, res) => void this.serveHttp(req, res));
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => void this.serveUpgrade(req, socket, head));
  }

  /** Starts listening; resolves with the port (a free one when `port` is 0 or left out). */
  listen(host: string, port = 0): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        const address = this.server.address() as AddressInfo;
        this.log.info('streaming server listening', { host, port: address.port });
        resolve(address.port);
      });
    });
  }

  /** Stops listening and ends every open stream. */
  async close(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async locate(target: Target, previous: boolean): Promise<LocatedContainer> {
    const found = await this.opts.locator.locate(target.namespace, target.pod, target.container, { previous });
    if (found) return found;
    throw previous
      ? notFound(target.object, `previous terminated ${target.object} not found on this node`)
      : notFound(target.object, `${target.object} is not known on this node; is the pod bound to this node and its container created?`);
  }

  private async serveHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = parseTarget(req.url);
    try {
      if (!target) throw notFound(req.url ?? '/', `no such path on the node agent: ${req.url ?? '/'} (it serves /containerLogs, /exec and /attach)`);
      if (req.method !== 'GET') throw invalid(target.object, `${target.kind} takes GET, not ${req.method ?? ''}`);
      if (target.kind !== 'containerLogs') throw invalid(target.object, `${target.kind} for ${target.object} needs a WebSocket upgrade with subprotocol ${userProtocol}`);
      const opts = parseLogOptions(target.query, target.object);
      const container = await this.locate(target, opts.previous);
      const aborted = new AbortController();
      res.on('close', () => aborted.abort());
      let started = false;
      await serveContainerLogs(this.opts.cri, container, target.object, opts, {
        write: (data) => {
          if (!started) {
            res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
            started = true;
          }
          return res.write(data) || res.destroyed ? Promise.resolve() : new Promise((r) => res.once('drain', r));
        },
      }, aborted.signal);
      if (!started) res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end();
    } catch (err) {
      const code = this.codeFor(err, target);
      if (res.headersSent) res.destroy();
      else res.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`${describeError(err)}\n`);
    }
  }

  private async serveUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const target = parseTarget(req.url);
    socket.on('error', () => undefined);
    try {
      if (!target || target.kind === 'containerLogs') throw notFound(req.url ?? '/', `no stream at ${req.url ?? '/'} on the node agent (it upgrades /exec and /attach)`);
      const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
      if (req.headers.upgrade?.toLowerCase() !== 'websocket' || !offered.includes(userProtocol)) {
        throw invalid(target.object, `${target.kind} for ${target.object} needs a WebSocket upgrade with subprotocol ${userProtocol} (SPDY is not served)`);
      }
      const streams = target.kind === 'exec' ? parseExecOptions(target.query, target.object) : parseStreamOptions(target.query, target.object);
      const container = await this.locate(target, false);
      if (!container.running) throw failedPrecondition(target.object, `${target.object} is not running; ${target.kind} needs a running container`);
      const ws = await new Promise<WebSocket>((resolve) => this.wss.handleUpgrade(req, socket, head, resolve));
      this.log.info(`${target.kind} session`, { object: target.object, ...streams });
      await relaySession(ws, streams, (output) => this.startRuntimeSession(target, container.containerId, streams, output), target.object, this.log);
    } catch (err) {
      const code = this.codeFor(err, target);
      const body = `${describeError(err)}\n`;
      socket.end(`HTTP/1.1 ${code} ${STATUS_CODES[code] ?? ''}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    }
  }

  /** CRI Exec (when `streams` carries a command) or Attach, then the session on the runtime's streaming server. */
  private async startRuntimeSession(target: Target, containerId: string, streams: StreamOptions | ExecOptions, output: RuntimeStreamOutput): Promise<RuntimeStream> {
    const { stdin, stdout, stderr, tty } = streams;
    const { url } = 'command' in streams
      ? await this.opts.cri.exec({ container_id: containerId, cmd: streams.command, stdin, stdout, stderr, tty })
      : await this.opts.cri.attach({ container_id: containerId, stdin, stdout, stderr, tty });
    return RuntimeStream.connect(url, streams, output, target.object);
  }

  private codeFor(err: unknown, target: Target | undefined): number {
    const code = isSandpodError(err) ? httpCode[err.kind] : 500;
    if (code >= 500) this.log.error('stream request failed', { object: target?.object, err });
    else this.log.debug('stream request refused', { object: target?.object, code, err });
    return code;
  }
}
