/**
 * The API server's HTTPS adapter: authentication, routing, body reading, content negotiation (JSON or Table),
 * Warning headers, chunked watch streams and Status errors. Everything else happens in transport-free modules.
 */
import { createServer, type Server } from 'node:https';
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import { readFileSync } from 'node:fs';
import { SandpodError } from '../errors.js';
import { createLogger, type Logger } from '../log.js';
import { isRecord, type KubeObject, type Status, type WatchEvent } from '../kube/index.js';
import { defaultRuntimeClasses } from './admission.js';
import { asResourceObject, fieldValidationOf, parseBody } from './decode.js';
import {
  aggregatedContentType, aggregatedDiscovery, aggregatedDiscoveryVersion, apiGroupList, apiResourceList, apiVersions, serverVersion,
} from './discovery.js';
import type { ComputedResource } from './computed.js';
import { metricsResources, type NodeStatsSource } from './metrics.js';
import { buildOpenApiV3 } from './openapi.js';
import { parseListOptions } from './paging.js';
import { patchTypeOf } from './patch.js';
import type { Pki } from './pki.js';
import { parseSelectors, Registry, type Scope, type WriteOptions } from './registry.js';
import { allResources } from './resources/index.js';
import { namespaces, systemNamespaces } from './resources/namespaces.js';
import { nodes } from './resources/nodes.js';
import { runtimeClasses } from './resources/runtimeclasses.js';
import { qualifiedResource, verbsOf, type ResourceDef } from './resources/resource.js';
import { route, type Route } from './router.js';
import { badRequest, failure, methodNotAllowed, noSuchPath, statusFor } from './status.js';
import { RevisionCompactedError, type EtcdStore } from './store.js';
import { tableContentType, toTable, wantsTable, type IncludeObject, type Table } from './table.js';
import { startWatch } from './watch.js';
import { WatchCache } from './watch-cache.js';
import type { PodStreaming } from './streaming.js';

export interface ApiServerOptions {
  store: EtcdStore;
  pki: Pki;
  token: string;
  host?: string;
  port?: number;
  /** Further addresses served on the same port (a cluster's host address, where its node agents reach the server). */
  extraHosts?: string[];
  logger?: Logger;
  /** Proxies pods/log, exec, attach and portforward to node agents. */
  streaming?: PodStreaming;
  /** Reads the node agents' resource usage, for metrics.k8s.io (kubectl top). */
  nodeStats?: NodeStatsSource;
}

type ResourceRoute = Extract<Route, { type: 'resource' }>;

/** kube-apiserver's limit on a request body (3 MiB, its --max-request-bytes default for most requests). */
export const maxBodyBytes = 3 * 1024 * 1024;

/**
 * The request body, or 413 once it passes maxBodyBytes (at once when Content-Length says so). What is left of a
 * refused body is read and dropped, so the client gets to read the answer, for up to 10 s.
 */
function readBody(req: IncomingMessage): Promise<Buffer> {
  const tooLarge = (): SandpodError => new SandpodError('TooLarge', `Request entity too large: limit is ${maxBodyBytes}`);
  const discard = (): void => {
    req.removeAllListeners('data');
    req.resume();
    const t = setTimeout(() => req.destroy(), 10_000);
    t.unref();
    req.once('end', () => clearTimeout(t));
  };
  if (Number(req.headers['content-length'] ?? 0) > maxBodyBytes) {
    discard();
    return Promise.reject(tooLarge());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= maxBodyBytes) {
        chunks.push(c);
        return;
      }
      chunks.length = 0;
      discard();
      reject(tooLarge());
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

const warningHeader = (w: string): string => `299 - "${w.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

function sendJson(res: ServerResponse, code: number, body: unknown, extra: { warnings?: string[]; contentType?: string } = {}): void {
  const text = JSON.stringify(body);
  const headers: Record<string, string | string[]> = {
    'Content-Type': extra.contentType ?? 'application/json',
    'Content-Length': String(Buffer.byteLength(text)),
    'Cache-Control': 'no-cache, private',
  };
  if (extra.warnings && extra.warnings.length > 0) headers['Warning'] = extra.warnings.map(warningHeader);
  res.writeHead(code, headers);
  res.end(text);
}

export class ApiServer {
  private server: Server | undefined;
  private readonly extraListeners: TcpServer[] = [];
  private readonly registry: Registry;
  private readonly log: Logger;
  private readonly openapi = buildOpenApiV3(allResources);
  private readonly sockets = new Set<Duplex>();
  private readonly watchCache: WatchCache;
  /** Serialized watch events, shared by every watcher that sends the same event as plain JSON. */
  private readonly encoded = new WeakMap<KubeObject, Map<string, string>>();
  /** The sources of the computed resources this server can answer. */
  private readonly computed = new Map<ResourceDef, ComputedResource>();
  port = 0;

  constructor(private readonly opts: ApiServerOptions) {
    this.log = opts.logger ?? createLogger('api');
    this.watchCache = new WatchCache(opts.store, { log: (message, fields) => this.log.warn(message, fields) });
    this.registry = new Registry(opts.store, this.watchCache);
    if (opts.nodeStats) for (const c of metricsResources(this.registry, opts.nodeStats, this.log)) this.computed.set(c.def, c);
  }

  get address(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  /** Creates the system namespaces and default RuntimeClasses, catches up on creation hooks, then listens. */
  async start(): Promise<void> {
    await this.registry.ensure(namespaces, systemNamespaces.map((name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } })));
    await this.registry.ensure(runtimeClasses, defaultRuntimeClasses());
    await this.registry.replayAfterCreate();
    const { pki } = this.opts;
    this.server = createServer({
      cert: readFileSync(pki.serverCert), key: readFileSync(pki.serverKey), ca: readFileSync(pki.caCert),
      requestCert: true, rejectUnauthorized: false,
    }, (req, res) => void this.handle(req, res));
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => void this.handleUpgrade(req, socket, head));
    this.server.on('connection', (s: Duplex) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.server.keepAliveTimeout = 30000;
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.opts.port ?? 0, this.opts.host ?? '127.0.0.1', () => resolve());
    });
    const addr = this.server.address();
    this.port = typeof addr === 'object' && addr ? addr.port : 0;
    for (const host of this.opts.extraHosts ?? []) {
      // Connections to the other addresses are handed to the one TLS server, which serves them like any other.
      const listener = createTcpServer((socket) => this.server?.emit('connection', socket));
      this.extraListeners.push(listener);
      await new Promise<void>((resolve, reject) => {
        listener.once('error', reject);
        listener.listen(this.port, host, () => resolve());
      });
    }
    this.log.info('listening', { address: this.address, extraHosts: this.opts.extraHosts ?? [] });
  }

  async close(): Promise<void> {
    this.watchCache.stop();
    const srv = this.server;
    if (!srv) return;
    for (const l of this.extraListeners.splice(0)) l.close();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => srv.close(() => resolve()));
    this.server = undefined;
  }

  private authenticated(req: IncomingMessage): boolean {
    const auth = req.headers.authorization;
    if (auth !== undefined) return auth === `Bearer ${this.opts.token}`;
    const sock = req.socket as TLSSocket;
    return sock.authorized === true;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = Date.now();
    const url = new URL(req.url ?? '/', 'https://localhost');
    const method = req.method ?? 'GET';
    try {
      const r = route(method, url.pathname, url.searchParams);
      if (r.type !== 'health' && !this.authenticated(req)) throw new SandpodError('Unauthorized', 'Unauthorized');
      await this.dispatch(r, req, res, url.searchParams);
    } catch (err) {
      const status = statusFor(err);
      if (status.code >= 500) this.log.error('request failed', { method, path: url.pathname, err });
      if (!res.headersSent) sendJson(res, status.code, status);
      else res.end();
    }
    this.log.debug('request', { method, path: url.pathname, code: res.statusCode, ms: Date.now() - started });
  }

  private async dispatch(r: Route, req: IncomingMessage, res: ServerResponse, query: URLSearchParams): Promise<void> {
    switch (r.type) {
      case 'version': return sendJson(res, 200, serverVersion);
      case 'health': {
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.end('ok');
        return;
      }
      case 'apiVersions':
      case 'apiGroups': {
        const aggregated = aggregatedDiscoveryVersion(req.headers.accept);
        if (aggregated) {
          return sendJson(res, 200, aggregatedDiscovery(allResources, r.type === 'apiVersions', aggregated), { contentType: aggregatedContentType(aggregated) });
        }
        return sendJson(res, 200, r.type === 'apiVersions' ? apiVersions(`127.0.0.1:${this.port}`) : apiGroupList(allResources));
      }
      case 'resourceList': {
        if (!allResources.some((d) => d.group === r.group && d.version === r.version)) throw noSuchPath();
        return sendJson(res, 200, apiResourceList(allResources, r));
      }
      case 'openapiIndex': return sendJson(res, 200, this.openapi.index);
      case 'openapiDocument': {
        const doc = this.openapi.documents.get(r.key);
        if (!doc) throw new SandpodError('NotFound', `no OpenAPI document for ${r.key}`);
        res.writeHead(200, { 'Content-Type': 'application/json', ETag: `"${doc.hash}"`, 'Cache-Control': 'public, immutable' });
        res.end(doc.body);
        return;
      }
      case 'resource': return this.resource(r, req, res, query);
      case 'unknown': throw noSuchPath();
    }
  }

  private scopeOf(r: ResourceRoute): Scope {
    const def = this.registry.resource(r.group, r.version, r.plural);
    if (def.namespaced && r.namespace === undefined && r.verb !== 'list' && r.verb !== 'watch') {
      throw new SandpodError('NotFound', `${def.plural} must be addressed under /namespaces/<namespace>/`);
    }
    return def.namespaced && r.namespace !== undefined ? { def, namespace: r.namespace } : { def };
  }

  private render(scope: Scope, req: IncomingMessage, query: URLSearchParams, obj: KubeObject | { items: KubeObject[]; metadata: Table['metadata'] }): { body: unknown; contentType?: string } {
    if (!wantsTable(req.headers.accept)) return { body: obj };
    const include = (query.get('includeObject') ?? 'Metadata') as IncludeObject;
    if (!('items' in obj && Array.isArray(obj.items))) {
      return { body: toTable(scope.def, [obj as KubeObject], { include, metadata: { resourceVersion: obj.metadata.resourceVersion ?? '' } }), contentType: tableContentType };
    }
    // A page of a list keeps its continue token and count, which kubectl follows to print the rest.
    return { body: toTable(scope.def, obj.items, { include, metadata: obj.metadata }), contentType: tableContentType };
  }

  private async resource(r: ResourceRoute, req: IncomingMessage, res: ServerResponse, query: URLSearchParams): Promise<void> {
    const scope = this.scopeOf(r);
    const { def } = scope;
    const name = r.name ?? '';
    const writeOpts = (): WriteOptions => ({ fieldValidation: fieldValidationOf(query), dryRun: query.get('dryRun') === 'All' });
    if (def.review && r.verb !== 'create') throw methodNotAllowed(def, verbsOf(def), 'it answers a question and stores nothing');
    if (r.subresource && !def.subresources.some((s) => s.name === r.subresource)) {
      throw new SandpodError('NotFound', `${def.plural} has no subresource "${r.subresource}"`);
    }
    if (def.computed) return this.computedResource(r, scope, req, res, query);
    switch (r.verb) {
      case 'get': {
        const out = this.render(scope, req, query, await this.registry.get(scope, name));
        return sendJson(res, 200, out.body, out);
      }
      case 'list': {
        const out = this.render(scope, req, query, await this.registry.list(scope, parseSelectors(def, query), parseListOptions(query)));
        return sendJson(res, 200, out.body, out);
      }
      case 'watch': return this.watch(scope, req, res, query);
      case 'create': {
        const body = parseBody(await readBody(req), req.headers['content-type']);
        if (r.subresource === 'binding') {
          const target = isRecord(body) && isRecord(body['target']) ? body['target'] : {};
          await this.registry.bind(scope.namespace ?? '', name, String(target['name'] ?? ''));
          return sendJson(res, 201, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 });
        }
        const created = await this.registry.create(scope, asResourceObject(def, body), writeOpts());
        return sendJson(res, 201, created.object, { warnings: created.warnings });
      }
      case 'update': {
        const body = parseBody(await readBody(req), req.headers['content-type']);
        const updated = await this.registry.update(scope, name, asResourceObject(def, body), writeOpts(), r.subresource);
        return sendJson(res, 200, updated.object, { warnings: updated.warnings });
      }
      case 'patch': return this.patch(scope, name, r.subresource, req, res, query, writeOpts());
      case 'delete': {
        const options = await this.deleteOptions(req, query);
        const { object } = await this.registry.delete(scope, name, options);
        return sendJson(res, 200, object);
      }
      case 'deletecollection': {
        const options = await this.deleteOptions(req, query);
        const list = await this.registry.list(scope, parseSelectors(def, query));
        const deleted: KubeObject[] = [];
        for (const obj of list.items) {
          const s = def.namespaced ? { def, namespace: obj.metadata.namespace ?? '' } : { def };
          deleted.push((await this.registry.delete(s, obj.metadata.name ?? '', options)).object);
        }
        return sendJson(res, 200, { ...list, items: deleted });
      }
      case 'connect': {
        if (!this.opts.streaming) throw new SandpodError('Unavailable', 'streaming to nodes is not configured on this API server');
        if (r.subresource === 'portforward') throw badRequest('pods/portforward needs an upgrade to SPDY/3.1 or a WebSocket tunnelling it (kubectl port-forward)');
        if (r.subresource !== 'log') throw badRequest(`pods/${r.subresource ?? ''} needs a WebSocket upgrade with subprotocol v5.channel.k8s.io (kubectl 1.30 or newer)`);
        const pod = await this.registry.get(scope, name);
        const node = await this.nodeOf(pod);
        return this.opts.streaming.log(pod, node, query, res);
      }
    }
  }

  /** get and list of a computed resource, answered by its source; nothing else is allowed on it. */
  private async computedResource(r: ResourceRoute, scope: Scope, req: IncomingMessage, res: ServerResponse, query: URLSearchParams): Promise<void> {
    const { def } = scope;
    if (r.verb !== 'get' && r.verb !== 'list') throw methodNotAllowed(def, verbsOf(def), 'it is computed on request and never stored');
    const source = this.computed.get(def);
    if (!source) throw failure(503, 'ServiceUnavailable', `${qualifiedResource(def)} is not available: this API server was started without a source for it (nodeStats)`);
    const answer = r.verb === 'get' ? await source.get(scope, r.name ?? '') : await source.list(scope, parseSelectors(def, query));
    const out = this.render(scope, req, query, answer);
    return sendJson(res, 200, out.body, out);
  }

  private async nodeOf(pod: KubeObject): Promise<KubeObject> {
    const nodeName = isRecord(pod['spec']) ? pod['spec']['nodeName'] : undefined;
    if (typeof nodeName !== 'string' || nodeName === '') {
      throw badRequest(`pod "${pod.metadata.name ?? ''}" is not scheduled to a node yet; wait until it is Running`);
    }
    return this.registry.get({ def: nodes }, nodeName);
  }

  private async deleteOptions(req: IncomingMessage, query: URLSearchParams): Promise<{ gracePeriodSeconds?: number; preconditions?: { uid?: string; resourceVersion?: string } }> {
    const raw = await readBody(req);
    const body = raw.length > 0 ? parseBody(raw, req.headers['content-type']) : {};
    const opts = isRecord(body) ? body : {};
    const q = query.get('gracePeriodSeconds');
    const grace = q !== null ? Number(q) : typeof opts['gracePeriodSeconds'] === 'number' ? opts['gracePeriodSeconds'] : undefined;
    if (grace !== undefined && !Number.isInteger(grace)) throw badRequest(`invalid gracePeriodSeconds "${String(q)}": expected an integer`);
    const pre = isRecord(opts['preconditions']) ? opts['preconditions'] : undefined;
    return {
      ...(grace !== undefined ? { gracePeriodSeconds: grace } : {}),
      ...(pre ? { preconditions: { uid: pre['uid'] as string | undefined, resourceVersion: pre['resourceVersion'] as string | undefined } } : {}),
    };
  }

  private async patch(scope: Scope, name: string, subresource: string | undefined, req: IncomingMessage, res: ServerResponse, query: URLSearchParams, opts: WriteOptions): Promise<void> {
    const type = patchTypeOf(req.headers['content-type']);
    if (!type) {
      throw new SandpodError('UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json`);
    }
    const body = parseBody(await readBody(req), type === 'apply' ? 'application/yaml' : 'application/json');
    const written = await this.registry.patch(scope, name, { type, body, fieldManager: query.get('fieldManager') ?? '' }, opts, subresource);
    return sendJson(res, written.created ? 201 : 200, written.object, { warnings: written.warnings });
  }

  private async watch(scope: Scope, req: IncomingMessage, res: ServerResponse, query: URLSearchParams): Promise<void> {
    const table = wantsTable(req.headers.accept);
    const include = (query.get('includeObject') ?? 'Metadata') as IncludeObject;
    let headersSent = false;
    const timeout = query.get('timeoutSeconds');
    const open = (): void => {
      res.writeHead(200, { 'Content-Type': table ? tableContentType : 'application/json', 'Transfer-Encoding': 'chunked', 'Cache-Control': 'no-cache, private' });
      res.flushHeaders();
    };
    const write = (ev: WatchEvent): void => {
      if (!res.headersSent) open();
      if (table && (ev.type === 'ADDED' || ev.type === 'MODIFIED' || ev.type === 'DELETED')) {
        res.write(JSON.stringify({ type: ev.type, object: toTable(scope.def, [ev.object], { include, withHeaders: !headersSent }) }) + '\n');
        headersSent = true;
        return;
      }
      res.write(this.encode(ev));
    };
    let stop: () => void;
    try {
      stop = await startWatch(this.watchCache, this.registry, scope, {
        resourceVersion: query.get('resourceVersion') ?? '',
        selectors: parseSelectors(scope.def, query),
        bookmarks: query.get('allowWatchBookmarks') === 'true',
        ...(timeout !== null ? { timeoutSeconds: Number(timeout) } : {}),
      }, {
        send: write,
        end: () => res.end(),
      });
    } catch (err) {
      // Like kube-apiserver: a too-old resourceVersion is an ERROR event in an open stream, so clients relist.
      if (!(err instanceof RevisionCompactedError)) throw err;
      write({ type: 'ERROR', object: statusFor(err) as unknown as KubeObject });
      res.end();
      return;
    }
    if (!res.headersSent) open();
    req.on('close', stop);
    res.on('close', stop);
  }

  private encode(ev: WatchEvent): string {
    let byType = this.encoded.get(ev.object);
    if (!byType) {
      byType = new Map();
      this.encoded.set(ev.object, byType);
    }
    let line = byType.get(ev.type);
    if (line === undefined) {
      line = JSON.stringify(ev) + '\n';
      byType.set(ev.type, line);
    }
    return line;
  }

  private async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://localhost');
    // A refused upgrade is a plain HTTP answer carrying the Status, which kubectl decodes and prints.
    const reject = (status: Status): void => {
      const body = JSON.stringify(status);
      socket.end(`HTTP/1.1 ${status.code} ${STATUS_CODES[status.code] ?? ''}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    };
    try {
      if (!this.authenticated(req)) return reject(statusFor(new SandpodError('Unauthorized', 'Unauthorized')));
      const r = route(req.method ?? 'GET', url.pathname, url.searchParams);
      if (r.type !== 'resource' || r.verb !== 'connect' || r.plural !== 'pods' || r.subresource === 'log' || !this.opts.streaming) {
        return reject(statusFor(badRequest('only pods/exec, pods/attach and pods/portforward can be upgraded to a stream')));
      }
      const scope = this.scopeOf(r);
      const pod = await this.registry.get(scope, r.name ?? '');
      const node = await this.nodeOf(pod);
      if (r.subresource === 'portforward') await this.opts.streaming.portForward(pod, node, req, socket, head);
      else await this.opts.streaming.upgrade(r.subresource as 'exec' | 'attach', pod, node, req, socket, head);
    } catch (err) {
      const status = statusFor(err);
      if (status.code >= 500) this.log.warn('stream upgrade failed', { path: url.pathname, err });
      reject(status);
    }
  }
}

