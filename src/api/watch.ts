/**
 * Watches: list-then-watch from resourceVersion 0 (or unset), or resume from a given revision (410 Expired when etcd
 * has compacted it), with selector transitions (an object leaving the selector is DELETED for this watcher),
 * optional bookmarks and a server-side timeout.
 */
import { isSandpodError } from '../errors.js';
import type { KubeObject, WatchEvent } from '../kube/index.js';
import { allItems } from './paging.js';
import { matches, storagePrefix, type Registry, type Scope, type Selectors } from './registry.js';
import { apiVersionOf } from './resources/resource.js';
import { badRequest, statusFor } from './status.js';
import type { StoreEvent } from './store.js';
import type { WatchCache } from './watch-cache.js';

export interface WatchOptions {
  resourceVersion: string;
  selectors: Selectors;
  bookmarks: boolean;
  timeoutSeconds?: number;
  bookmarkIntervalMs?: number;
}

export interface WatchSink {
  send(event: WatchEvent): void;
  /** Called once when the server ends the watch (timeout, error after an ERROR event). */
  end(): void;
}

/** Starts a watch and returns the function that stops it. */
export async function startWatch(cache: WatchCache, registry: Registry, scope: Scope, opts: WatchOptions, sink: WatchSink): Promise<() => void> {
  const { def } = scope;
  let from: number;
  const initial: KubeObject[] = [];
  if (opts.resourceVersion === '' || opts.resourceVersion === '0') {
    const list = await registry.list(scope, opts.selectors, { ...allItems, resourceVersion: opts.resourceVersion });
    initial.push(...list.items);
    from = Number(list.metadata.resourceVersion);
  } else {
    from = Number(opts.resourceVersion);
    if (!Number.isInteger(from) || from < 0) throw badRequest(`invalid resourceVersion "${opts.resourceVersion}" for a watch: expected a number from a list`);
  }
  let stopped = false;
  let lastRevision = from;
  const timers: NodeJS.Timeout[] = [];
  const finish = (): void => {
    if (stopped) return;
    stop();
    sink.end();
  };
  const onEvent = (e: StoreEvent): void => {
    if (stopped) return;
    lastRevision = e.revision;
    const now = matches(def, opts.selectors, e.object);
    const before = e.previous ? matches(def, opts.selectors, e.previous) : e.type !== 'ADDED' && now;
    if (e.type === 'MODIFIED') {
      if (now && before) sink.send({ type: 'MODIFIED', object: e.object });
      else if (now) sink.send({ type: 'ADDED', object: e.object });
      else if (before) sink.send({ type: 'DELETED', object: e.object });
    } else if (now) sink.send({ type: e.type, object: e.object });
  };
  const cancel = await cache.subscribe(storagePrefix(def, scope.namespace), from, onEvent, (err) => {
    if (stopped) return;
    // A revision that is gone is an ERROR event (410), after which clients list again; any other end just closes
    // the stream, and clients watch again from the last resourceVersion they saw, as they do after a timeout.
    if (isSandpodError(err, 'Expired')) sink.send({ type: 'ERROR', object: statusFor(err) as unknown as KubeObject });
    finish();
  });
  const stop = (): void => {
    stopped = true;
    cancel();
    for (const t of timers) clearTimeout(t);
  };
  for (const obj of initial) sink.send({ type: 'ADDED', object: obj });
  if (opts.bookmarks) {
    const t = setInterval(() => {
      if (!stopped) sink.send({ type: 'BOOKMARK', object: { apiVersion: apiVersionOf(def), kind: def.kind, metadata: { resourceVersion: String(lastRevision) } } });
    }, opts.bookmarkIntervalMs ?? 10000);
    t.unref();
    timers.push(t);
  }
  if (opts.timeoutSeconds !== undefined && opts.timeoutSeconds > 0) {
    const t = setTimeout(finish, opts.timeoutSeconds * 1000);
    t.unref();
    timers.push(t);
  }
  return stop;
}
