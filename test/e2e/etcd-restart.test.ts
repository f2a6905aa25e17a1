/**
 * etcd killed (-9) and started again under a running API server: while it is away, requests fail with 503 naming
 * etcd; once it is back, kubectl works again within 10 s without touching the API server, and a watch opened
 * before the kill continues on the same stream, delivering what happened after.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { EtcdStore } from '../../src/api/index.js';
import { clusterLayout, isAlive, readState, startEtcd } from '../../src/cluster/index.js';
import { Informer, type Status, type WatchEvent } from '../../src/kube/index.js';
import { gatedPod, startCluster, waitUntil, type TestCluster } from './harness.js';

let cluster: TestCluster;

before(async () => {
  cluster = await startCluster();
});

after(async () => {
  await cluster?.stop();
});

const pod = (name: string): unknown => gatedPod(name, { app: 'etcd-restart' });

async function killEtcd(): Promise<void> {
  const etcd = readState(clusterLayout(cluster.paths))!.processes.find((p) => p.name === 'etcd')!;
  process.kill(etcd.pid, 'SIGKILL');
  await waitUntil('etcd to die', () => !isAlive(etcd.pid) || undefined, 5000, 20);
}

/** Starts etcd again on its data and ports, and records its PID so the cluster's cleanup stops it. */
async function startEtcdAgain(): Promise<void> {
  const layout = clusterLayout(cluster.paths);
  const member = await startEtcd(layout.etcdData, join(layout.logs, 'etcd.log'));
  const state = readState(layout)!;
  assert.deepEqual([member.endpoint], state.etcdEndpoints, 'etcd comes back on the same endpoint');
  state.processes = state.processes.map((p) => (p.name === 'etcd' ? member.process : p));
  writeFileSync(layout.stateFile, JSON.stringify(state));
}

test('the API server recovers by itself within 10 s of etcd coming back, and watches continue', async () => {
  const base = '/api/v1/namespaces/default/pods';
  await cluster.client.create(base, pod('before'));
  const list = await cluster.client.list(`${base}?labelSelector=app%3Detcd-restart`);
  const streamed: WatchEvent[] = [];
  let streamEnded = false;
  const stopStream = await cluster.client.watch(base, { resourceVersion: list.metadata.resourceVersion, labelSelector: 'app=etcd-restart' },
    (e) => streamed.push(e), () => (streamEnded = true));
  const informed: string[] = [];
  const informer = new Informer(cluster.client, `${base}?labelSelector=app%3Detcd-restart`, (e) => informed.push(`${e.type} ${e.object.metadata.name ?? ''}`), 100);
  await informer.start();
  try {
    await killEtcd();
    const down = await cluster.client.raw('GET', base);
    assert.equal(down.code, 503, JSON.stringify(down.body));
    assert.match((down.body as Status).message ?? '', /etcd .* failed: .*check that etcd is running/);
    const refused = await cluster.kubectl(['get', 'pods']);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /ServiceUnavailable|check that etcd is running/);

    await startEtcdAgain();
    const back = Date.now();
    const works = await waitUntil('kubectl get pods to work again', async () => {
      const r = await cluster.kubectl(['get', 'pods', '-o', 'name'], { timeoutMs: 10_000 });
      return r.code === 0 ? r : undefined;
    }, 10_000, 200);
    const recoveredMs = Date.now() - back;
    console.log(`kubectl worked again ${recoveredMs} ms after etcd was back`);
    assert.match(works.stdout, /pod\/before/);
    const created = await cluster.kubectl(['create', '-f', '-'], { input: JSON.stringify(pod('after')) });
    assert.equal(created.code, 0, created.stderr);
    assert.ok(Date.now() - back < 10_000, `a write worked ${Date.now() - back} ms after etcd was back`);

    await waitUntil('the watch opened before the kill to deliver the pod created after', () =>
      streamed.some((e) => e.type === 'ADDED' && e.object.metadata.name === 'after') || undefined, 10_000);
    assert.equal(streamEnded, false, 'the stream stayed open across the etcd restart');
    assert.ok(!streamed.some((e) => e.type === 'ERROR'), JSON.stringify(streamed.filter((e) => e.type === 'ERROR')));
    await waitUntil('the informer to see it too', () => informed.includes('ADDED after') || undefined, 10_000);
    assert.deepEqual(informed.filter((e) => e.endsWith(' before')), ['ADDED before'], 'the informer continued without listing again');
  } finally {
    stopStream();
    informer.stop();
  }
});

test('after a second kill, a list with resourceVersion=0 is answered from the watch cache while etcd is away', async () => {
  await killEtcd();
  try {
    const cached = await cluster.client.raw('GET', '/api/v1/namespaces/default/pods?resourceVersion=0');
    assert.equal(cached.code, 200, JSON.stringify(cached.body));
    assert.deepEqual((cached.body as { items: Array<{ metadata: { name: string } }> }).items.map((p) => p.metadata.name).sort(), ['after', 'before']);
  } finally {
    await startEtcdAgain();
  }
  await waitUntil('a consistent list again', async () => (await cluster.client.raw('GET', '/api/v1/namespaces/default/pods')).code === 200 || undefined, 10_000, 200);
});

test('a range larger than gRPC\'s receive limit is read in smaller pages, where etcd3\'s defaults open a circuit that small reads then hit', async () => {
  const prefix = '/sandpod-test/big/';
  const etcd = new Etcd3({ hosts: cluster.state.etcdEndpoints, grpcOptions: { 'grpc.max_receive_message_length': 256 * 1024 } });
  const store = new EtcdStore(cluster.state.etcdEndpoints, { maxReceiveBytes: 256 * 1024 });
  try {
    const value = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' }, data: { pad: 'x'.repeat(8 * 1024) } });
    for (let i = 0; i < 300; i += 100) {
      await etcd.kv.txn({ compare: [], failure: [], success: Array.from({ length: 100 }, (_, j) => ({ request_put: { key: Buffer.from(`${prefix}${String(i + j).padStart(3, '0')}`), value: Buffer.from(value) } })) });
    }
    // The failure the issue met: the too-large read is retried three times, each counting against the host, so the
    // breaker opens, and the next read, however small, is refused until a probe succeeds.
    await assert.rejects(etcd.getAll().prefix(prefix).strings(), /RESOURCE_EXHAUSTED: Received message larger than max/);
    await assert.rejects(etcd.get(`${prefix}000`).string(), /circuit breaker is open|BrokenCircuit|Execution prevented/i);
    const { entries } = await store.listEntries(prefix);
    assert.equal(entries.length, 300);
    assert.equal(new Set(entries.map((e) => e.key)).size, 300);
    assert.equal((await store.get(`${prefix}000`))?.kind, 'ConfigMap');
  } finally {
    await etcd.delete().prefix(prefix).exec().catch(() => undefined);
    etcd.close();
    store.close();
  }
});
