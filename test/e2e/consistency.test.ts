/** Lists served from the API server's watch cache are consistent reads: a client always sees its own writes. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, type TestCluster } from './harness.js';

let cluster: TestCluster;

before(async () => {
  cluster = await startCluster();
});

after(async () => {
  await cluster?.stop();
});

test('every write is visible to the next list, with a resourceVersion at least the write\'s', async () => {
  const base = '/api/v1/namespaces/default/pods';
  for (let i = 0; i < 30; i++) {
    const created = await cluster.client.create(base, {
      apiVersion: 'v1', kind: 'Pod', metadata: { name: `c-${i}` }, spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] },
    });
    const list = await cluster.client.list(base);
    assert.ok(list.items.some((p) => p.metadata.name === `c-${i}`), `c-${i} missing from the list right after its creation`);
    assert.ok(Number(list.metadata.resourceVersion) >= Number(created.metadata.resourceVersion));
    if (i % 3 === 0) {
      await cluster.client.delete(`${base}/c-${i}`);
      const after = await cluster.client.list(base);
      assert.ok(!after.items.some((p) => p.metadata.name === `c-${i}`), `c-${i} still listed after its deletion`);
    }
  }
  const names = (await cluster.client.list(base)).items.map((p) => p.metadata.name ?? '');
  assert.deepEqual(names, [...names].sort(), 'lists come back in key order, as etcd returns them');
  assert.equal(names.length, 20);
});
