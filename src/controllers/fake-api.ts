/**
 * An in-memory Kubernetes API for the controllers' unit tests: objects by path, lists and watches of collections
 * (all namespaces or one), discovery, resourceVersion conflicts, and the deletion rules the controllers rely on — a
 * pod bound to a node is only marked unless the grace period is 0; a namespace goes once `finalize` leaves it
 * without finalizers. Every write is recorded in `writes`.
 */
import { isRecord, KubeApiError, type KubeApi, type KubeList, type KubeObject, type RequestOptions, type WatchEvent } from '../kube/index.js';
import { waitUntil } from '../wait.js';

/** Waits (3 s at most) until `probe` answers something other than undefined, for what the controllers do meanwhile. */
export const until = <T>(what: string, probe: () => T | undefined): Promise<T> =>
  waitUntil(probe, { timeoutMs: 3000, onTimeout: () => new Error(`timed out waiting for ${what}`) });

interface Parsed {
  groupVersion: string;
  namespace?: string;
  plural: string;
  name?: string;
  subresource?: string;
}

function parse(path: string): Parsed {
  const parts = path.split('?')[0]!.split('/').filter((p) => p !== '');
  const core = parts[0] === 'api';
  const groupVersion = `/${parts.slice(0, core ? 2 : 3).join('/')}`;
  let rest = parts.slice(core ? 2 : 3);
  let namespace: string | undefined;
  // As the API server's router: /namespaces/{name}/{status,finalize} are the namespace's own subresources.
  if (rest[0] === 'namespaces' && rest.length >= 3 && rest[2] !== 'status' && rest[2] !== 'finalize') {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [plural, name, subresource] = rest;
  return { groupVersion, plural: plural ?? '', ...(namespace !== undefined ? { namespace } : {}), ...(name !== undefined ? { name } : {}), ...(subresource !== undefined ? { subresource } : {}) };
}

const objectPath = (p: Parsed): string => `${p.groupVersion}${p.namespace !== undefined ? `/namespaces/${p.namespace}` : ''}/${p.plural}/${p.name ?? ''}`;

const fail = (code: number, reason: string, message: string): KubeApiError =>
  new KubeApiError({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', code, reason, message }, message);

export interface FakeResource {
  name: string;
  namespaced: boolean;
  verbs: string[];
}

export class FakeApi implements KubeApi {
  readonly objects = new Map<string, KubeObject>();
  /** `METHOD path [body]` of every write. */
  readonly writes: string[] = [];
  /** Discovery: resources per group-version path (`/api/v1`, `/apis/g/v`). */
  readonly discovery = new Map<string, FakeResource[]>();
  private revision = 1;
  private readonly watchers = new Set<{ collection: Parsed; onEvent: (e: WatchEvent) => void }>();

  /** Stores an object at its path (`/api/v1/namespaces/ns/pods/p`), as a create or an update would, and tells watchers. */
  put(path: string, obj: KubeObject): KubeObject {
    const p = parse(path);
    const stored = structuredClone(obj);
    stored.metadata = { uid: `uid-${p.name ?? ''}`, ...stored.metadata, name: p.name ?? '', resourceVersion: String(++this.revision), ...(p.namespace !== undefined ? { namespace: p.namespace } : {}) };
    const key = objectPath(p);
    const existed = this.objects.has(key);
    this.objects.set(key, stored);
    this.emit(p, { type: existed ? 'MODIFIED' : 'ADDED', object: stored });
    return structuredClone(stored);
  }

  /** Removes an object now (a node agent confirming a pod's end, a node deleted) and tells watchers. */
  remove(path: string): KubeObject | undefined {
    const p = parse(path);
    const obj = this.objects.get(objectPath(p));
    if (!obj) return undefined;
    this.objects.delete(objectPath(p));
    this.emit(p, { type: 'DELETED', object: { ...obj, metadata: { ...obj.metadata, resourceVersion: String(++this.revision) } } });
    return obj;
  }

  find(path: string): KubeObject | undefined {
    return this.objects.get(objectPath(parse(path)));
  }

  get = (path: string): Promise<KubeObject> => {
    const obj = this.find(path);
    return obj ? Promise.resolve(structuredClone(obj)) : Promise.reject(fail(404, 'NotFound', `${path} not found`));
  };

  list = (path: string): Promise<KubeList> => {
    const c = parse(path);
    const items = [...this.objects.entries()].filter(([k]) => this.inCollection(c, parse(k))).map(([, o]) => structuredClone(o));
    return Promise.resolve({ apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: String(this.revision) }, items });
  };

  call = <T = KubeObject>(method: string, path: string, opts: RequestOptions = {}): Promise<T> => {
    if (method !== 'GET') return Promise.reject(new Error(`FakeApi: ${method} ${path} is not faked (body ${JSON.stringify(opts.body)})`));
    if (path === '/apis') {
      const groups = [...this.discovery.keys()].filter((gv) => gv.startsWith('/apis/')).map((gv) => {
        const v = { groupVersion: gv.slice('/apis/'.length), version: gv.split('/').pop() };
        return { name: gv.split('/')[2], versions: [v], preferredVersion: v };
      });
      return Promise.resolve({ kind: 'APIGroupList', groups } as T);
    }
    const resources = this.discovery.get(path);
    if (resources) return Promise.resolve({ kind: 'APIResourceList', resources } as T);
    return this.get(path) as Promise<T>;
  };

  update = (path: string, body: unknown): Promise<KubeObject> => {
    const p = parse(path);
    const obj = body as KubeObject;
    this.writes.push(`PUT ${path} ${JSON.stringify(p.subresource === 'finalize' ? (obj['spec'] ?? {}) : {})}`);
    const current = this.find(path);
    if (!current) return Promise.reject(fail(404, 'NotFound', `${path} not found`));
    if (obj.metadata.resourceVersion && obj.metadata.resourceVersion !== current.metadata.resourceVersion) {
      return Promise.reject(fail(409, 'Conflict', `${path}: the object has been modified`));
    }
    const base = objectPath(p);
    if (p.subresource === 'status') return Promise.resolve(this.put(base, { ...current, status: obj['status'] }));
    if (p.subresource === 'finalize') {
      const finalizers = isRecord(obj['spec']) && Array.isArray(obj['spec']['finalizers']) ? obj['spec']['finalizers'] : [];
      const next = { ...current, spec: { ...(isRecord(current['spec']) ? current['spec'] : {}), finalizers } };
      if (finalizers.length === 0 && current.metadata.deletionTimestamp) {
        this.remove(base);
        return Promise.resolve(next);
      }
      return Promise.resolve(this.put(base, next));
    }
    return Promise.resolve(this.put(base, obj));
  };

  delete = (path: string, options?: unknown): Promise<KubeObject> => {
    this.writes.push(`DELETE ${path} ${JSON.stringify(options ?? {})}`);
    const current = this.find(path);
    if (!current) return Promise.reject(fail(404, 'NotFound', `${path} not found`));
    const opts = isRecord(options) ? options : {};
    const uid = isRecord(opts['preconditions']) ? opts['preconditions']['uid'] : undefined;
    if (uid !== undefined && uid !== current.metadata.uid) return Promise.reject(fail(409, 'Conflict', `${path}: precondition failed: UID`));
    const bound = isRecord(current['spec']) && current['spec']['nodeName'];
    if (parse(path).plural === 'pods' && bound && opts['gracePeriodSeconds'] !== 0) {
      return Promise.resolve(this.put(path, { ...current, metadata: { ...current.metadata, deletionTimestamp: '2026-03-01T10:00:30Z', deletionGracePeriodSeconds: 30 } }));
    }
    this.remove(path);
    return Promise.resolve(current);
  };

  watch = (path: string, _query: Record<string, string>, onEvent: (e: WatchEvent) => void): Promise<() => void> => {
    const w = { collection: parse(path), onEvent };
    this.watchers.add(w);
    return Promise.resolve(() => { this.watchers.delete(w); });
  };

  private inCollection(c: Parsed, o: Parsed): boolean {
    return c.groupVersion === o.groupVersion && c.plural === o.plural && (c.namespace === undefined || c.namespace === o.namespace);
  }

  private emit(p: Parsed, e: WatchEvent): void {
    for (const w of this.watchers) if (this.inCollection(w.collection, p)) w.onEvent(structuredClone(e));
  }
}
