/**
 * The node agent's streaming server (docs/node-streaming.md): plain HTTP for `containerLogs`, WebSocket
 * `v5.channel.k8s.io` for `exec` and `attach`, SPDY/3.1 `portforward.k8s.io` for `portForward`, backed by CRI.
 * This file is the transport edge: it decodes each request into a typed one, finds the container or sandbox
 * through the locator and hands over to container-logs.ts, session.ts or port-forward.ts; errors become a status
 * code with a plain-text body.
 */
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { CriClient } from '../../cri/index.js';
import { describeError, failedPrecondition, invalid, isSandpodError, notFound, type ErrorKind } from '../../errors.js';
import type { Logger } from '../../log.js';
import { httpCodes } from '../../kube/index.js';
import { STATS_SUMMARY_PATH, type StatsSummarySource } from '../stats/index.js';
import { serveContainerLogs } from './container-logs.js';
import type { ContainerLocator, LocatedContainer, LocatedPod } from './locator.js';
import { parseExecOptions, parseLogOptions, parseStreamOptions, type ExecOptions, type StreamOptions } from './params.js';
import { portForwardProtocol, servePortForward, type PortForwardTarget } from './port-forward.js';
import { PodAddressTarget, RuntimePortForwardTarget } from './port-forward-targets.js';
import { RuntimeStream } from './runtime-stream.js';
import { relaySession, userProtocol } from './session.js';

export interface NodeStreamingServerOptions {
  cri: CriClient;
  locator: ContainerLocator;
  log: Logger;
  /** When given, GET /stats/summary answers the node's resource usage (docs/node-agent.md). */
  stats?: StatsSummarySource;
}

type ContainerKind = 'containerLogs' | 'exec' | 'attach';

interface Target {
  kind: ContainerKind;
  namespace: string;
  pod: string;
  container: string;
  query: URLSearchParams;
  /** `container "c" of pod ns/p`, for messages. */
  object: string;
}

interface PodTarget {
  kind: 'portForward';
  namespace: string;
  pod: string;
  /** `pod ns/p`, for messages. */
  object: string;
}

/** Runtime handlers whose pods run in a VM of their own: their ports are reached at the pod's address. */
const vmRuntimeHandlers: ReadonlySet<string> = new Set(['sandpod-vm']);

const httpCode: Record<ErrorKind, number> = httpCodes;

/** `/{kind}/{namespace}/{pod}/{container}` and its query, `/portForward/{namespace}/{pod}`, or undefined for any other path. */
function parseTarget(url: string | undefined): Target | PodTarget | undefined {
  const u = new URL(url ?? '/', 'http://node');
  const parts = u.pathname.split('/').slice(1);
  const [kind, ...names] = parts;
  const expected = kind === 'portForward' ? 2 : kind === 'containerLogs' || kind === 'exec' || kind === 'attach' ? 3 : 0;
  if (expected === 0 || names.length !== expected || names.some((n) => n === '')) return undefined;
  let decoded: string[];
  try {
    decoded = names.map(decodeURIComponent);
  } catch {
    return undefined;
  }
  const [namespace = '', pod = '', container = ''] = decoded;
  if (kind === 'portForward') return { kind, namespace, pod, object: `pod ${namespace}/${pod}` };
  return { kind: kind as ContainerKind, namespace, pod, container, query: u.searchParams, object: `container "${container}" of pod ${namespace}/${pod}` };
}

/** The values of a header that may be repeated or comma-separated (X-Stream-Protocol-Version). */
function headerValues(value: string | string[] | undefined): string[] {
  return (Array.isArray(value) ? value : [value ?? '']).flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
}

export class NodeStreamingServer {
  private readonly server: Server;
  private readonly wss = new WebSocketServer({ noServer: true, handleProtocols: (offered) => (offered.has(userProtocol) ? userProtocol : false) });
  private readonly log: Logger;
  /** Upgraded port-forward connections, which the HTTP server no longer tracks. */
  private readonly portForwards = new Set<Duplex>();

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
    for (const socket of this.portForwards) socket.destroy();
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
    if (this.opts.stats && req.method === 'GET' && new URL(req.url ?? '/', 'http://node').pathname === STATS_SUMMARY_PATH) {
      const body = JSON.stringify(this.opts.stats.summary());
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }).end(body);
      return;
    }
    const target = parseTarget(req.url);
    try {
      if (!target) throw notFound(req.url ?? '/', `no such path on the node agent: ${req.url ?? '/'} (it serves /containerLogs, /exec, /attach, /portForward and ${STATS_SUMMARY_PATH})`);
      if (req.method !== 'GET') throw invalid(target.object, `${target.kind} takes GET, not ${req.method ?? ''}`);
      if (target.kind === 'portForward') throw invalid(target.object, `portForward for ${target.object} needs a SPDY/3.1 upgrade with X-Stream-Protocol-Version ${portForwardProtocol}`);
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
      if (!target || target.kind === 'containerLogs') throw notFound(req.url ?? '/', `no stream at ${req.url ?? '/'} on the node agent (it upgrades /exec, /attach and /portForward)`);
      if (target.kind === 'portForward') return await this.servePortForward(target, req, socket, head);
      const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
      if (req.headers.upgrade?.toLowerCase() !== 'websocket' || !offered.includes(userProtocol)) {
        throw invalid(target.object, `${target.kind} for ${target.object} needs a WebSocket upgrade with subprotocol ${userProtocol} (SPDY is not served)`);
      }
      const streams = target.kind === 'exec' ? parseExecOptions(target.query, target.object) : parseStreamOptions(target.query, target.object);
      const container = await this.locate(target, false);
      if (!container.running) throw failedPrecondition(target.object, `${target.object} is not running; ${target.kind} needs a running container`);
      const ws = await new Promise<WebSocket>((resolve) => this.wss.handleUpgrade(req, socket, head, resolve));
      this.log.info(`${target.kind} session`, { object: target.object, ...streams });
      await relaySession(ws, streams, () => this.startRuntimeSession(target, container.containerId, streams), target.object, this.log);
    } catch (err) {
      const code = this.codeFor(err, target);
      const body = `${describeError(err)}\n`;
      socket.end(`HTTP/1.1 ${code} ${STATUS_CODES[code] ?? ''}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    }
  }

  /**
   * kubelet's port-forward handshake (apimachinery httpstream.Handshake): a SPDY/3.1 upgrade offering
   * portforward.k8s.io, refused with 403 and the accepted protocols otherwise. The target is connected before
   * the 101, so that a pod that cannot be forwarded to is an HTTP error the user sees.
   */
  private async servePortForward(target: PodTarget, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    if (req.headers.upgrade?.toLowerCase() !== 'spdy/3.1') {
      throw invalid(target.object, `portForward for ${target.object} needs a SPDY/3.1 upgrade (WebSocket is not served on the node)`);
    }
    const offered = headerValues(req.headers['x-stream-protocol-version']);
    if (!offered.includes(portForwardProtocol)) {
      const body = `unable to upgrade: unable to negotiate protocol: client supports [${offered.join(' ')}], server accepts [${portForwardProtocol}]\n`;
      socket.end(`HTTP/1.1 403 Forbidden\r\nX-Accepted-Stream-Protocol-Versions: ${portForwardProtocol}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      return;
    }
    const pod = await this.opts.locator.locatePod(target.namespace, target.pod);
    if (!pod) throw notFound(target.object, `${target.object} is not known on this node; is it bound to this node and its sandbox created?`);
    if (!pod.ready) throw failedPrecondition(target.object, `the sandbox of ${target.object} is not ready; port-forward needs a running pod`);
    const forwardTo = await this.portForwardTarget(pod, target.object);
    this.portForwards.add(socket);
    socket.once('close', () => this.portForwards.delete(socket));
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: ${portForwardProtocol}\r\n\r\n`);
    this.log.info('port-forward session', { object: target.object, sandbox: pod.sandboxId, handler: pod.runtimeHandler || 'default' });
    await servePortForward(socket, head, forwardTo, { object: target.object, log: this.log });
  }

  private async portForwardTarget(pod: LocatedPod, object: string): Promise<PortForwardTarget> {
    if (vmRuntimeHandlers.has(pod.runtimeHandler)) {
      if (!pod.podIP) throw failedPrecondition(object, `${object} has no pod IP yet; port-forward to a VM pod needs its address`);
      return new PodAddressTarget(pod.podIP, object);
    }
    const { url } = await this.opts.cri.portForward({ pod_sandbox_id: pod.sandboxId, port: [] });
    return RuntimePortForwardTarget.open(url, object);
  }

  /** CRI Exec (when `streams` carries a command) or Attach, then the session on the runtime's streaming server. */
  private async startRuntimeSession(target: Target, containerId: string, streams: StreamOptions | ExecOptions): Promise<RuntimeStream> {
    const { stdin, stdout, stderr, tty } = streams;
    const { url } = 'command' in streams
      ? await this.opts.cri.exec({ container_id: containerId, cmd: streams.command, stdin, stdout, stderr, tty })
      : await this.opts.cri.attach({ container_id: containerId, stdin, stdout, stderr, tty });
    return RuntimeStream.connect(url, streams, target.object);
  }

  private codeFor(err: unknown, target: Target | PodTarget | undefined): number {
    const code = isSandpodError(err) ? httpCode[err.kind] : 500;
    if (code >= 500) this.log.error('stream request failed', { object: target?.object, err });
    else this.log.debug('stream request refused', { object: target?.object, code, err });
    return code;
  }
}
