/** The API server restarts without losing objects or resourceVersions; watches resume from a revision; compaction gives 410. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { clusterLayout, readState, startApiServer, stopProcess } from '../../src/cluster/index.js';
import { Etcd3 } from 'etcd3';
import { EtcdStore } from '../../src/api/index.js';
import { Informer, type WatchEvent } from '../../src/kube/index.js';
import { gatedPod, startCluster, waitUntil, type TestCluster } from './harness.js';

let cluster: TestCluster;

before(async () => {
  cluster = await startCluster();
});

after(async () => {
  await cluster?.stop();
});

const pod = (name: string): unknown => gatedPod(name, { app: 'restart' });

/** Stops the API server process and starts a new one on the same port, recording its PID for cleanup. */
async function restartApiServer(): Promise<void> {
  const layout = clusterLayout(cluster.paths);
  const state = readState(layout)!;
  const old = state.processes.find((p) => p.name === 'apiserver')!;
  await stopProcess(old.pid);
  const fresh = await startApiServer(layout, state.etcdEndpoints);
  state.processes = state.processes.map((p) => (p.name === 'apiserver' ? fresh.process : p));
  writeFileSync(layout.stateFile, JSON.stringify(state));
}

test('objects, uids and resourceVersions survive an API server restart, and a watch resumes from its revision', async () => {
  const base = '/api/v1/namespaces/default/pods';
  const a = await cluster.client.create(base, pod('a'));
  const informerEvents: string[] = [];
  const informer = new Informer(cluster.client, `${base}?labelSelector=app%3Drestart`, (e) => informerEvents.push(`${e.type} ${e.object.metadata.name ?? ''}`), 100);
  await informer.start();
  try {
    await restartApiServer();
    const again = await cluster.client.get(`${base}/a`);
    assert.equal(again.metadata.uid, a.metadata.uid);
    assert.equal(again.metadata.resourceVersion, a.metadata.resourceVersion);
    const b = await cluster.client.create(base, pod('b'));
    assert.ok(Number(b.metadata.resourceVersion) > Number(a.metadata.resourceVersion));

    const events: WatchEvent[] = [];
    const stop = await cluster.client.watch(base, { resourceVersion: a.metadata.resourceVersion ?? '' }, (e) => events.push(e), () => undefined);
    try {
      await waitUntil('the watch from before the restart to deliver b', () => events.some((e) => e.type === 'ADDED' && e.object.metadata.name === 'b') || undefined);
      assert.ok(!events.some((e) => e.object.metadata.name === 'a'), 'a was created at the watched revision, so it must not be replayed');
    } finally {
      stop();
    }
    await waitUntil('the informer to resume and see b', () => informerEvents.includes('ADDED b') || undefined, 20000);
    assert.deepEqual(informerEvents.filter((e) => e.endsWith(' a')), ['ADDED a'], 'the informer resumed instead of relisting a as new');
    const r = await cluster.kubectl(['get', 'pods', '-l', 'app=restart', '-o', 'name']);
    assert.equal(r.stdout.trim(), 'pod/a\npod/b');
  } finally {
    informer.stop();
  }
});

test('updates are compare-and-swap on resourceVersion: a stale write is 409 Conflict', async () => {
  const base = '/api/v1/namespaces/default/pods';
  const c = await cluster.client.create(base, pod('cas'));
  await cluster.client.mergePatch(`${base}/cas`, { metadata: { labels: { step: '1' } } });
  const stale = await cluster.client.raw('PUT', `${base}/cas`, { body: { ...c, metadata: { ...c.metadata, labels: { step: 'stale' } } } });
  assert.equal(stale.code, 409);
  assert.equal((stale.body as { reason: string }).reason, 'Conflict');
  assert.match((stale.body as { message: string }).message, /Operation cannot be fulfilled on pods "cas": the object has been modified/);
  const current = await cluster.client.get(`${base}/cas`);
  assert.equal(current.metadata.labels?.['step'], '1');
});

test('a watch from a compacted revision gets 410 Expired', async () => {
  const base = '/api/v1/namespaces/default/pods';
  const old = await cluster.client.create(base, pod('old'));
  const latest = await cluster.client.mergePatch(`${base}/old`, { metadata: { labels: { touched: 'yes' } } });
  const store = new EtcdStore(readState(clusterLayout(cluster.paths))!.etcdEndpoints);
  try {
    await store.compact(Number(latest.metadata.resourceVersion));
  } finally {
    store.close();
  }
  const events: WatchEvent[] = [];
  let ended = false;
  // Revision 2 predates the API server's watch cache, so the answer comes from etcd, which has compacted it.
  assert.ok(Number(old.metadata.resourceVersion) > 2);
  await cluster.client.watch(base, { resourceVersion: '2' }, (e) => events.push(e), () => (ended = true));
  await waitUntil('the stream to end', () => ended || undefined);
  assert.equal(events.length, 1);
  assert.equal(events[0]!.type, 'ERROR');
  const status = events[0]!.object as unknown as { code: number; reason: string };
  assert.equal(status.code, 410);
  assert.equal(status.reason, 'Expired');
});

test('events are stored with an etcd lease of about an hour, which every update renews', async () => {
  const base = '/api/v1/namespaces/default/events';
  await cluster.client.create(base, {
    apiVersion: 'v1', kind: 'Event', metadata: { name: 'ev1' },
    involvedObject: { kind: 'Pod', name: 'x', namespace: 'default' }, reason: 'Test', message: 'expires', type: 'Normal',
  });
  const key = '/registry/core/events/default/ev1';
  const etcd = new Etcd3({ hosts: readState(clusterLayout(cluster.paths))!.etcdEndpoints });
  const ttlOf = async (): Promise<number> => {
    const kv = (await etcd.get(key).exec()).kvs[0]!;
    assert.notEqual(kv.lease, '0');
    return Number((await etcd.leaseClient.leaseTimeToLive({ ID: kv.lease })).TTL);
  };
  try {
    const created = await ttlOf();
    assert.ok(created > 3500 && created <= 3660, `lease TTL ${created}`);
    // An event near its end (as one created 58 minutes ago would be): the next update gives it another hour, as kube's TTL on update does.
    const short = (await etcd.leaseClient.leaseGrant({ TTL: 120 })).ID;
    const kv = (await etcd.get(key).exec()).kvs[0]!;
    await etcd.kv.put({ key: Buffer.from(key), value: kv.value, lease: short });
    assert.ok(await ttlOf() <= 120);
    await cluster.client.mergePatch(`${base}/ev1`, { count: 2 });
    const renewed = await ttlOf();
    assert.ok(renewed > 3500 && renewed <= 3660, `lease TTL after the update ${renewed}`);
    assert.equal((await etcd.get('/registry/core/pods/default/a').exec()).kvs[0]!.lease, '0');
  } finally {
    etcd.close();
  }
});

test('a namespace stored without its default ServiceAccount (older data, or a crash between the writes) gets one at start', async () => {
  await cluster.client.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'legacy' } });
  await waitUntil('the default ServiceAccount of legacy', async () => (await cluster.client.raw('GET', '/api/v1/namespaces/legacy/serviceaccounts/default')).code === 200 || undefined);
  // Removed behind the API server's back, so no hook runs: the state a namespace from before this feature is in.
  const etcd = new Etcd3({ hosts: readState(clusterLayout(cluster.paths))!.etcdEndpoints });
  try {
    await etcd.delete().key('/registry/core/serviceaccounts/legacy/default').exec();
  } finally {
    etcd.close();
  }
  assert.equal((await cluster.client.raw('GET', '/api/v1/namespaces/legacy/serviceaccounts/default')).code, 404);
  await restartApiServer();
  assert.equal((await cluster.client.raw('GET', '/api/v1/namespaces/legacy/serviceaccounts/default')).code, 200);
});
