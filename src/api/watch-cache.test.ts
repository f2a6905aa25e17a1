import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSandpodError } from '../errors.js';
import type { KubeObject } from '../kube/index.js';
import { waitUntil } from '../wait.js';
import { RevisionCompactedError, type Entry, type StoreEvent } from './store.js';
import { WatchCache, type CacheStore } from './watch-cache.js';

const obj = (name: string, rv: number): KubeObject => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'ns', resourceVersion: String(rv) } });
const put = (name: string, rev: number): StoreEvent => ({ type: 'ADDED', key: `/registry/core/pods/ns/${name}`, object: obj(name, rev), revision: rev });

/** An etcd that the test drives: its watches can be broken, and the revisions they resume from can be compacted. */
class FakeEtcd implements CacheStore {
  entries: Entry[] = [{ key: '/registry/core/pods/ns/a', object: obj('a', 10) }];
  rev = 10;
  compactedThrough = 0;
  listings = 0;
  watches: Array<{ after: number; onEvent: (e: StoreEvent) => void; onEnd: (err: Error) => void; cancelled: boolean }> = [];

  listEntries = (): Promise<{ entries: Entry[]; revision: number }> => {
    this.listings++;
    return Promise.resolve({ entries: [...this.entries], revision: this.rev });
  };
  list = async (): Promise<{ items: KubeObject[]; revision: number }> => ({ items: this.entries.map((e) => e.object), revision: this.rev });
  revision = (): Promise<number> => Promise.resolve(this.rev);
  watch = (_prefix: string, after: number, onEvent: (e: StoreEvent) => void, onEnd: (err: Error) => void): Promise<() => void> => {
    if (after < this.compactedThrough) return Promise.reject(new RevisionCompactedError(after));
    const w = { after, onEvent, onEnd, cancelled: false };
    this.watches.push(w);
    return Promise.resolve(() => { w.cancelled = true; });
  };
  emit(e: StoreEvent): void {
    this.rev = e.revision;
    this.entries.push({ key: e.key, object: e.object });
    for (const w of this.watches) if (!w.cancelled) w.onEvent(e);
  }
  breakWatches(): void {
    for (const w of this.watches.splice(0)) if (!w.cancelled) w.onEnd(new Error('14 UNAVAILABLE: Connection dropped'));
  }
}

const wait = (what: string, probe: () => boolean): Promise<true> =>
  waitUntil(() => probe() || undefined, { timeoutMs: 5000, onTimeout: () => new Error(`timed out waiting for ${what}`) });

test('a broken shared watch resumes from the cache\'s revision; its watchers see nothing but the next events', async () => {
  const etcd = new FakeEtcd();
  const cache = new WatchCache(etcd);
  const seen: string[] = [];
  const ended: Error[] = [];
  await cache.subscribe('/registry/core/pods/', 10, (e) => seen.push(e.object.metadata.name ?? ''), (err) => ended.push(err));
  etcd.emit(put('b', 11));
  etcd.breakWatches();
  await wait('the cache to watch again', () => etcd.watches.length === 1);
  assert.equal(etcd.watches[0]!.after, 11, 'resumed after the last revision the cache saw');
  etcd.emit(put('c', 12));
  assert.deepEqual(seen, ['b', 'c']);
  assert.deepEqual(ended, []);
  assert.equal(etcd.listings, 1, 'no second list');
  assert.deepEqual((await cache.list('/registry/core/pods/')).items.map((o) => o.metadata.name), ['a', 'b', 'c']);
  cache.stop();
});

test('when the revision to resume from is compacted, watchers end with 410 Expired and the cache lists again', async () => {
  const etcd = new FakeEtcd();
  const cache = new WatchCache(etcd);
  const ended: Error[] = [];
  await cache.subscribe('/registry/core/pods/', 10, () => undefined, (err) => ended.push(err));
  etcd.rev = 20;
  etcd.compactedThrough = 15;
  etcd.breakWatches();
  await wait('the watcher to end', () => ended.length === 1);
  assert.ok(isSandpodError(ended[0], 'Expired'), String(ended[0]));
  await cache.list('/registry/core/pods/');
  assert.equal(etcd.listings, 2, 'listed again');
  assert.equal(etcd.watches.at(-1)?.after, 20);
  cache.stop();
});

test('a list for a resourceVersion the cache has not reached waits, then answers 504 Too large resource version', async () => {
  const etcd = new FakeEtcd();
  const cache = new WatchCache(etcd, { freshnessTimeoutMs: 50 });
  await assert.rejects(cache.listAtLeast('/registry/core/pods/', 99), (err) => isSandpodError(err, 'Timeout') && err.message === 'Too large resource version: 99, current: 10');
  const later = cache.listAtLeast('/registry/core/pods/', 11);
  etcd.emit(put('b', 11));
  assert.equal((await later).revision, 11);
  cache.stop();
});
