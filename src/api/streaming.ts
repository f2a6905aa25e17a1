/**
 * pods/log, pods/exec and pods/attach: the API server proxies them to the node agent of the pod's node, at
 * the address the Node object advertises (status.addresses InternalIP + status.daemonEndpoints.kubeletEndpoint.Port).
 * The node-side contract is docs/node-streaming.md. WebSocket frames (v5.channel.k8s.io) pass through unchanged.
 */
import { request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { isRecord, type KubeObject } from '../kube/index.js';
import { at } from './resources/resource.js';
import { badRequest, failure, statusFor } from './status.js';

export const streamProtocol = 'v5.channel.k8s.io';

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

function agentPath(kind: 'containerLogs' | 'exec' | 'attach', pod: KubeObject, container: string, query: URLSearchParams): string {
  const q = new URLSearchParams(query);
  q.delete('container');
  const qs = q.toString();
  return `/${kind}/${encodeURIComponent(pod.metadata.namespace ?? '')}/${encodeURIComponent(pod.metadata.name ?? '')}/${encodeURIComponent(container)}${qs ? `?${qs}` : ''}`;
}

export interface PodStreaming {
  log(pod: KubeObject, node: KubeObject, query: URLSearchParams, res: ServerResponse): Promise<void>;
  upgrade(kind: 'exec' | 'attach', pod: KubeObject, node: KubeObject, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void>;
}

/** Proxies streams to node agents over plain HTTP/WebSocket on the node network. */
export class NodeAgentStreaming implements PodStreaming {
  private readonly wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (protocols) => (protocols.has(streamProtocol) ? streamProtocol : false),
  });

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
    client.on('message', (data: Buffer) => (upstream?.readyState === WebSocket.OPEN ? upstream.send(data, { binary: true }) : held.push(data)));
    client.on('close', () => upstream?.close());
    client.on('error', () => upstream?.terminate());
    try {
      const url = target();
      upstream = new WebSocket(url, [streamProtocol]);
      const up = upstream;
      up.on('message', (data: Buffer) => client.send(data, { binary: true }));
      up.on('close', (code, reason) => client.close(code === 1005 || code === 1006 ? 1000 : code, reason));
      await new Promise<void>((resolve, reject) => {
        up.once('open', () => resolve());
        up.once('error', (err) => reject(failure(502, 'InternalError', `cannot reach the node agent of ${node.metadata.name ?? ''} at ${url.origin}: ${err.message}`)));
        up.once('unexpected-response', (_r, res) => reject(failure(res.statusCode ?? 502, 'InternalError', `the node agent of ${node.metadata.name ?? ''} refused the ${kind} stream (HTTP ${res.statusCode ?? 0})`)));
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
}
