/**
 * pods/log, pods/exec, pods/attach and pods/portforward: the API server proxies them to the node agent of the
 * pod's node, at the address the Node object advertises (status.addresses InternalIP +
 * status.daemonEndpoints.kubeletEndpoint.Port). The node-side contract is docs/node-streaming.md. WebSocket
 * frames (v5.channel.k8s.io) pass through unchanged; port-forward's SPDY bytes pass through unchanged too, taken
 * out of their WebSocket messages when kubectl ≥ 1.31 tunnels them (kube-apiserver's tunneling handler).
 */
import { request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createWebSocketStream, WebSocket, WebSocketServer } from 'ws';
import { isRecord, type KubeObject } from '../kube/index.js';
import { at } from './resources/resource.js';
import type { SandpodError } from '../errors.js';
import { badRequest, failure, statusFor } from './status.js';

export const streamProtocol = 'v5.channel.k8s.io';
export const portForwardProtocol = 'portforward.k8s.io';
/** kubectl ≥ 1.31 offers `SPDY/3.1+portforward.k8s.io` as a WebSocket subprotocol and sends SPDY in binary messages. */
export const tunnelPrefix = 'SPDY/3.1+';

/** The Status reason kube-apiserver gives an HTTP code. */
function reasonFor(code: number): string {
  switch (code) {
    case 400: return 'BadRequest';
    case 403: return 'Forbidden';
    case 404: return 'NotFound';
    case 409: return 'Conflict';
    case 503: return 'ServiceUnavailable';
    case 504: return 'Timeout';
    default: return 'InternalError';
  }
}

/** Reads a refusal's body and turns it into the Status the user gets: the node's own words, its code. */
function refusal(node: KubeObject, kind: string, res: IncomingMessage): Promise<SandpodError> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('error', () => undefined);
    res.on('close', () => {
      const code = res.statusCode ?? 502;
      const said = Buffer.concat(chunks).toString().trim();
      resolve(failure(code >= 400 ? code : 502, reasonFor(code), said || `the node agent of ${node.metadata.name ?? ''} refused the ${kind} stream (HTTP ${code})`));
    });
  });
}

/** The values of a header that may be repeated or comma-separated. */
function headerValues(value: string | string[] | undefined): string[] {
  return (Array.isArray(value) ? value : [value ?? '']).flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
}

/** The node agent's base URL from its Node object. */
export function nodeAgentUrl(node: KubeObject): URL {
  const addresses = at(node, 'status', 'addresses');
  const ip = Array.isArray(addresses) ? addresses.find((a) => isRecord(a) && a['type'] === 'InternalIP') : undefined;
  const port = at(node, 'status', 'daemonEndpoints', 'kubeletEndpoint', 'Port');
  if (!isRecord(ip) || typeof ip['address'] !== 'string' || typeof port !== 'number' || port <= 0) {
    throw failure(503, 'ServiceUnavailable', `node "${node.metadata.name ?? ''}" advertises no agent address (status.addresses InternalIP and status.daemonEndpoints.kubeletEndpoint.Port); is its node agent running?`);
  }
  return new URL(`http://${ip['address'].includes(':') ? `[${ip['address']}]` : ip['address']}:${port}`);
}

/** The container a request names, or the pod's only/first container; unknown names are 400. */
export function containerOf(pod: KubeObject, query: URLSearchParams): string {
  const containers = (at(pod, 'spec', 'containers') ?? []) as Array<{ name?: string }>;
  const names = containers.map((c) => c.name ?? '');
  const wanted = query.get('container');
  if (wanted) {
    if (!names.includes(wanted)) throw badRequest(`container ${wanted} is not valid for pod ${pod.metadata.name ?? ''}; choose one of: ${names.join(', ')}`);
    return wanted;
  }
  const annotated = pod.metadata.annotations?.['kubectl.kubernetes.io/default-container'];
  const first = annotated && names.includes(annotated) ? annotated : names[0];
  if (!first) throw badRequest(`pod ${pod.metadata.name ?? ''} has no containers`);
  return first;
}

const podPath = (pod: KubeObject): string => `${encodeURIComponent(pod.metadata.namespace ?? '')}/${encodeURIComponent(pod.metadata.name ?? '')}`;

function agentPath(kind: 'containerLogs' | 'exec' | 'attach', pod: KubeObject, container: string, query: URLSearchParams): string {
  const q = new URLSearchParams(query);
  q.delete('container');
  const qs = q.toString();
  return `/${kind}/${podPath(pod)}/${encodeURIComponent(container)}${qs ? `?${qs}` : ''}`;
}

export interface PodStreaming {
  log(pod: KubeObject, node: KubeObject, query: URLSearchParams, res: ServerResponse): Promise<void>;
  upgrade(kind: 'exec' | 'attach', pod: KubeObject, node: KubeObject, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void>;
  portForward(pod: KubeObject, node: KubeObject, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void>;
}

/** Unsent bytes on a WebSocket above which its sender is paused, and below which it resumes. */
const relayHighWater = 1024 * 1024;
const relayLowWater = 256 * 1024;

/** Sends a message from one WebSocket on to the other, pausing the sender while the receiver is behind. */
function relay(data: Buffer, from: WebSocket, to: WebSocket): void {
  if (to.readyState !== WebSocket.OPEN) return;
  to.send(data, { binary: true }, () => {
    if (from.isPaused && to.bufferedAmount < relayLowWater) from.resume();
  });
  if (to.bufferedAmount > relayHighWater) from.pause();
}

/** Copies both ways until either side closes, then closes the other; pipe() gives backpressure. */
function splice(a: Duplex, b: Duplex): void {
  a.pipe(b);
  b.pipe(a);
  for (const [x, y] of [[a, b], [b, a]] as const) {
    x.on('error', () => y.destroy());
    x.on('close', () => y.destroy());
  }
}

/** Proxies streams to node agents over plain HTTP/WebSocket on the node network. */
export class NodeAgentStreaming implements PodStreaming {
  private readonly wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (protocols) => (protocols.has(streamProtocol) ? streamProtocol : false),
  });
  /**
   * `SPDY/3.1+portforward.k8s.io` is not an RFC 6455 token (the `/`), so ws refuses it in a handshake: the
   * request's offer is checked here and removed, and the answer's subprotocol header added back.
   */
  private readonly tunnels = new WebSocketServer({ noServer: true })
    .on('headers', (headers: string[]) => headers.push(`Sec-WebSocket-Protocol: ${tunnelPrefix}${portForwardProtocol}`));

  async log(pod: KubeObject, node: KubeObject, query: URLSearchParams, res: ServerResponse): Promise<void> {
    const url = new URL(agentPath('containerLogs', pod, containerOf(pod, query), query), nodeAgentUrl(node));
    await new Promise<void>((resolve, reject) => {
      const upstream = request(url, { method: 'GET' }, (up) => {
        if ((up.statusCode ?? 500) >= 400) {
          const chunks: Buffer[] = [];
          up.on('data', (c: Buffer) => chunks.push(c));
          up.on('end', () => reject(failure(up.statusCode ?? 500, 'InternalError', `node ${node.metadata.name ?? ''} could not serve logs: ${Buffer.concat(chunks).toString().trim()}`)));
          return;
        }
        res.writeHead(200, { 'Content-Type': 'text/plain', 'Transfer-Encoding': 'chunked' });
        res.flushHeaders();
        up.on('data', (c: Buffer) => res.write(c));
        up.on('end', () => { res.end(); resolve(); });
        up.on('error', () => { res.end(); resolve(); });
      });
      upstream.on('error', (err) => reject(failure(502, 'InternalError', `cannot reach the node agent of ${node.metadata.name ?? ''} at ${url.origin}: ${err.message}`)));
      res.on('close', () => upstream.destroy());
      upstream.end();
    });
  }

  /**
   * Accepts the client's WebSocket first and connects to the node agent afterwards, as kube-apiserver does: problems
   * found after that point reach kubectl as a Status on the error channel, and the node's first output cannot
   * overtake the client's own setup. A request that is not a v5 WebSocket (kubectl's SPDY fallback) gets the same
   * checks as an HTTP error, then a refusal that names the WebSocket requirement.
   */
  async upgrade(kind: 'exec' | 'attach', pod: KubeObject, node: KubeObject, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    const query = new URL(req.url ?? '/', 'https://localhost').searchParams;
    const target = (): URL => {
      const phase = at(pod, 'status', 'phase');
      if (phase === 'Succeeded' || phase === 'Failed') throw badRequest(`cannot ${kind} into a container in a completed pod; current phase is ${String(phase)}`);
      const url = new URL(agentPath(kind, pod, containerOf(pod, query), query), nodeAgentUrl(node));
      url.protocol = 'ws:';
      return url;
    };
    if (!offered.includes(streamProtocol)) {
      target();
      throw badRequest(`only the ${streamProtocol} WebSocket subprotocol is supported for ${kind} (SPDY is not); use kubectl 1.30 or newer, with KUBECTL_REMOTE_COMMAND_WEBSOCKETS unset or true`);
    }
    const client = await new Promise<WebSocket>((resolve) => this.wss.handleUpgrade(req, socket, head, resolve));
    // stdin may arrive before the node agent answers: hold it until then.
    const held: Buffer[] = [];
    let upstream: WebSocket | undefined;
    client.on('message', (data: Buffer) => (upstream?.readyState === WebSocket.OPEN ? relay(data, client, upstream) : held.push(data)));
    client.on('close', () => upstream?.close());
    client.on('error', () => upstream?.terminate());
    try {
      const url = target();
      upstream = new WebSocket(url, [streamProtocol]);
      const up = upstream;
      up.on('message', (data: Buffer) => relay(data, up, client));
      up.on('close', (code, reason) => client.close(code === 1005 || code === 1006 ? 1000 : code, reason));
      await new Promise<void>((resolve, reject) => {
        up.once('open', () => resolve());
        up.once('error', (err) => reject(failure(502, 'InternalError', `cannot reach the node agent of ${node.metadata.name ?? ''} at ${url.origin}: ${err.message}`)));
        up.once('unexpected-response', (_r, res) => void refusal(node, kind, res).then(reject));
      });
      up.on('error', () => client.terminate());
      for (const data of held.splice(0)) up.send(data, { binary: true });
    } catch (err) {
      const status = statusFor(err);
      client.send(Buffer.concat([Buffer.from([3]), Buffer.from(JSON.stringify({ metadata: {}, status: 'Failure', message: status.message, reason: status.reason, code: status.code }))]), { binary: true });
      client.close(1000);
      upstream?.terminate();
    }
  }

  /**
   * Port-forward, as kube-apiserver does it: the node agent's SPDY upgrade is made first, and only its 101 is
   * answered to the user — with a SPDY 101 (kubectl 1.30, or a fallback) or by accepting the WebSocket tunnel
   * (kubectl ≥ 1.31). From then on the bytes are copied both ways; the SPDY session is the node agent's. A node
   * that refuses gives the user its status and message, which kubectl prints (after a tunnel refusal, kubectl
   * retries with SPDY and gets the same answer).
   */
  async portForward(pod: KubeObject, node: KubeObject, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const tunnel = req.headers.upgrade?.toLowerCase() === 'websocket';
    const offered = tunnel
      ? headerValues(req.headers['sec-websocket-protocol']).filter((p) => p.startsWith(tunnelPrefix)).map((p) => p.slice(tunnelPrefix.length))
      : headerValues(req.headers['x-stream-protocol-version']);
    if (!tunnel && req.headers.upgrade?.toLowerCase() !== 'spdy/3.1') {
      throw badRequest(`pods/portforward needs an upgrade to SPDY/3.1, or a WebSocket with subprotocol ${tunnelPrefix}${portForwardProtocol}`);
    }
    if (!offered.includes(portForwardProtocol)) {
      throw failure(403, 'Forbidden', `unable to upgrade: unable to negotiate protocol: client supports [${offered.join(' ')}], server accepts [${portForwardProtocol}]`);
    }
    const url = new URL(`/portForward/${podPath(pod)}`, nodeAgentUrl(node));
    const upstream = await new Promise<{ socket: Socket; head: Buffer }>((resolve, reject) => {
      const up = request(url, { method: 'POST', headers: { Connection: 'Upgrade', Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': portForwardProtocol } });
      up.on('upgrade', (_res, s: Socket, h: Buffer) => resolve({ socket: s, head: h }));
      up.on('response', (res) => void refusal(node, 'port-forward', res).then(reject));
      up.on('error', (err) => reject(failure(502, 'InternalError', `cannot reach the node agent of ${node.metadata.name ?? ''} at ${url.origin}: ${err.message}`)));
      socket.once('close', () => up.destroy());
      up.end();
    });
    if (upstream.head.length > 0) upstream.socket.unshift(upstream.head);
    if (socket.destroyed) {
      upstream.socket.destroy();
      return;
    }
    if (tunnel) {
      delete req.headers['sec-websocket-protocol'];
      const ws = await new Promise<WebSocket>((resolve) => this.tunnels.handleUpgrade(req, socket, head, resolve));
      splice(createWebSocketStream(ws), upstream.socket);
      return;
    }
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: ${portForwardProtocol}\r\n\r\n`);
    if (head.length > 0) upstream.socket.write(head);
    splice(socket, upstream.socket);
  }
}
