/**
 * A small Kubernetes REST client over HTTPS (the scheduler, node agents and tests use it): bearer token and
 * cluster CA from a kubeconfig, JSON requests, Status errors as SandpodErrors, and newline-delimited watch streams.
 */
import { request, Agent } from 'node:https';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { SandpodError, unavailable } from '../errors.js';
import { isRecord, type KubeList, type KubeObject, type Status, type WatchEvent } from './object.js';
import { kindOfStatus } from './status.js';

export interface ClientConfig {
  server: string;
  ca: string | Buffer;
  token: string;
}

/**
 * A failed API call: a SandpodError whose kind is read from the server's Status (so callers test kinds, e.g.
 * `isSandpodError(err, 'Conflict')`), with the Status itself kept for what only it says.
 */
export class KubeApiError extends SandpodError {
  constructor(readonly status: Status, what: string) {
    super(kindOfStatus(status), status.message ?? status.reason ?? `HTTP ${status.code}`, { object: what, ...(status.details ? { details: status.details } : {}) });
  }
}

/** The Status a failed answer carries, or one made from its code and text when it carries none. */
function statusOf(code: number, body: unknown): Status {
  let decoded = body;
  if (typeof body === 'string') try { decoded = JSON.parse(body); } catch { /* plain text */ }
  if (isRecord(decoded) && decoded['kind'] === 'Status') return decoded as unknown as Status;
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', code, message: String(body ?? '') };
}

/** The server, CA and token of the current context of a kubeconfig file. */
export function configFromKubeconfig(path: string): ClientConfig {
  const doc = parseYaml(readFileSync(path, 'utf8')) as Record<string, unknown>;
  const pick = (list: unknown, name: unknown): Record<string, unknown> => {
    const found = Array.isArray(list) ? list.find((x) => isRecord(x) && x['name'] === name) : undefined;
    if (!isRecord(found)) throw unavailable(path, `kubeconfig ${path} has no entry named ${String(name)}`);
    return found;
  };
  const ctx = pick(doc['contexts'], doc['current-context'])['context'] as Record<string, unknown>;
  const cluster = pick(doc['clusters'], ctx['cluster'])['cluster'] as Record<string, unknown>;
  const user = pick(doc['users'], ctx['user'])['user'] as Record<string, unknown>;
  const ca = typeof cluster['certificate-authority-data'] === 'string'
    ? Buffer.from(cluster['certificate-authority-data'], 'base64')
    : readFileSync(String(cluster['certificate-authority']));
  return { server: String(cluster['server']), ca, token: String(user['token'] ?? '') };
}

export interface RequestOptions {
  body?: unknown;
  contentType?: string;
  headers?: Record<string, string>;
}

export interface Response {
  code: number;
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
}

/**
 * The calls a controller makes: KubeClient has them, and a unit test gives an in-memory API instead. Informers need
 * only `list` and `watch`.
 */
export type KubeApi = Pick<KubeClient, 'get' | 'list' | 'call' | 'update' | 'delete' | 'watch'>;

export class KubeClient {
  private readonly agent: Agent;

  constructor(readonly config: ClientConfig) {
    this.agent = new Agent({ ca: config.ca, keepAlive: true, maxSockets: 64 });
  }

  static fromKubeconfig(path: string): KubeClient {
    return new KubeClient(configFromKubeconfig(path));
  }

  /** Any request; answers with the status code and the decoded body, never throws for HTTP errors. */
  raw(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
    const url = new URL(path, this.config.server);
    const body = opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    return new Promise((resolve, reject) => {
      const req = request(url, {
        method, agent: this.agent,
        headers: {
          Accept: 'application/json',
          ...(this.config.token ? { Authorization: `Bearer ${this.config.token}` } : {}),
          ...(body !== undefined ? { 'Content-Type': opts.contentType ?? 'application/json', 'Content-Length': String(Buffer.byteLength(body)) } : {}),
          ...opts.headers,
        },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let decoded: unknown = text;
          try { decoded = text ? JSON.parse(text) : undefined; } catch { /* plain text */ }
          resolve({ code: res.statusCode ?? 0, body: decoded, headers: res.headers });
        });
        res.on('error', reject);
      });
      req.on('error', (err) => reject(unavailable(this.config.server, `cannot reach the API server at ${this.config.server}: ${err.message}`, err)));
      req.end(body);
    });
  }

  /** A request that must succeed (2xx); otherwise throws KubeApiError with the server's Status. */
  async call<T = KubeObject>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.raw(method, path, opts);
    if (res.code >= 200 && res.code < 300) return res.body as T;
    throw new KubeApiError(statusOf(res.code, res.body), `${method} ${path}`);
  }

  get = (path: string): Promise<KubeObject> => this.call('GET', path);
  list = (path: string): Promise<KubeList> => this.call<KubeList>('GET', path);
  create = (path: string, obj: unknown): Promise<KubeObject> => this.call('POST', path, { body: obj });
  update = (path: string, obj: unknown): Promise<KubeObject> => this.call('PUT', path, { body: obj });
  mergePatch = (path: string, patch: unknown): Promise<KubeObject> => this.call('PATCH', path, { body: patch, contentType: 'application/merge-patch+json' });
  delete = (path: string, options?: unknown): Promise<KubeObject> => this.call('DELETE', path, options === undefined ? {} : { body: options });

  /**
   * Streams watch events from `path` (a list path; `query` adds watch=true). Resolves once the stream is open;
   * `onEnd` is called when the server or the network ends it.
   */
  watch(path: string, query: Record<string, string>, onEvent: (e: WatchEvent) => void, onEnd: (err?: Error) => void): Promise<() => void> {
    const url = new URL(path, this.config.server);
    for (const [k, v] of Object.entries({ ...query, watch: 'true' })) url.searchParams.set(k, v);
    return new Promise((resolve, reject) => {
      let ended = false;
      const end = (err?: Error): void => {
        if (!ended) {
          ended = true;
          onEnd(err);
        }
      };
      const req = request(url, { method: 'GET', agent: this.agent, headers: { Accept: 'application/json', Authorization: `Bearer ${this.config.token}` } }, (res) => {
        if ((res.statusCode ?? 0) !== 200) {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => reject(new KubeApiError(statusOf(res.statusCode ?? 0, Buffer.concat(chunks).toString()), `watch ${url.pathname}`)));
          return;
        }
        resolve(() => {
          ended = true;
          req.destroy();
        });
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buf += chunk;
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl).trim();
            buf = buf.slice(nl + 1);
            if (line) onEvent(JSON.parse(line) as WatchEvent);
          }
        });
        res.on('end', () => end());
        res.on('error', (err) => end(err));
        res.on('close', () => end());
      });
      req.on('error', (err) => {
        reject(unavailable(url.pathname, `watch ${url.pathname} failed: ${err.message}`, err));
        end(err);
      });
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
