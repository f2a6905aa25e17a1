import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster } from './cluster.js';
import { machineFacts } from './machine.js';
import { ClusterStore, type ClusterRecord, type NodeRecord } from './store.js';

const root = mkdtempSync(join(tmpdir(), 'sandpod-store-'));
const store = new ClusterStore({ stateRoot: join(root, 'state'), runRoot: join(root, 'run'), cacheRoot: join(root, 'cache') });
const record = (name: string, group = 'local'): ClusterRecord => ({
  apiVersion: 'sandpod.io/v1', kind: 'Cluster', name, resourceGroup: group, createdAt: '2025-01-01T00:00:00Z', provisioningState: 'Succeeded', powerState: 'Stopped',
  network: { nodeNetwork: '10.224.9.0/24', podCidr: '10.244.0.0/16' },
  pools: [{ name: 'nodepool1', mode: 'System', workloadRuntime: 'OCIContainer', osSku: 'Ubuntu', vmSize: 'Standard_D2s_v3', count: 0, maxPods: 110, labels: {}, taints: [], provisioningState: 'Succeeded', nodes: [] }],
});

after(() => rmSync(root, { recursive: true, force: true }));

test('records are kept per resource group and name, listed in order, checked when read, removed with their directories', () => {
  store.save(record('b'));
  store.save(record('a'));
  store.save(record('a', 'rg2'));
  assert.deepEqual(store.list().map((r) => `${r.resourceGroup}/${r.name}`), ['local/a', 'local/b', 'rg2/a']);
  assert.deepEqual(store.list('rg2').map((r) => r.name), ['a']);
  assert.throws(() => store.require({ resourceGroup: 'rg3', name: 'a' }), (err: unknown) => err instanceof Error && (err as { object?: string }).object === 'cluster a (resource group rg3)'
    && /^it does not exist; a cluster of that name exists in resource group local, rg2 \(pass --resource-group\)$/.test(err.message));
  assert.notEqual(store.key({ resourceGroup: 'local', name: 'a' }), store.key({ resourceGroup: 'rg2', name: 'a' }));
  writeFileSync(join(store.dir({ resourceGroup: 'local', name: 'b' }), 'cluster.json'), '{"apiVersion":"sandpod.io/v1","kind":"Cluster","name":"b","extra":1}');
  assert.throws(() => store.get({ resourceGroup: 'local', name: 'b' }), /is not valid: .*written by another Sandpod version or edited/);
  store.remove({ resourceGroup: 'rg2', name: 'a' });
  assert.equal(existsSync(join(root, 'state', 'clusters', 'rg2')), false, 'an empty resource group goes too');
});

test('one command at a time per cluster: the lock fails at once while held, and is taken over from a holder that exited', () => {
  const id = { resourceGroup: 'local', name: 'a' };
  const release = store.lock(id);
  writeFileSync(join(root, 'run', 'locks', `${store.key(id)}.lock`), '1');
  assert.throws(() => store.lock(id), /it is being changed by another sandpod command \(pid 1\); wait for it to finish/);
  writeFileSync(join(root, 'run', 'locks', `${store.key(id)}.lock`), '2147483646');
  const again = store.lock(id);
  again();
  release();
});

test('new nodes get the lowest free number, address and pod block, and names like the managed service\'s', () => {
  const r = record('alloc');
  store.save(r);
  const cluster = Cluster.open(store, r, { machine: machineFacts(24 * 2 ** 30, 2) });
  const pool = cluster.record.pools[0]!;
  pool.nodes = cluster.allocateNodes(pool, 2);
  assert.match(pool.nodes[0]!.name, /^aks-nodepool1-\d{8}-vmss000000$/);
  assert.deepEqual(pool.nodes.map((n) => [n.index, n.address, n.podCidr, n.name.slice(-6)]), [[0, '10.224.9.4', '10.244.0.0/24', '000000'], [1, '10.224.9.5', '10.244.1.0/24', '000001']]);
  const own = { ...pool, name: 'vm', podSubnet: '10.30.0.0/24', nodes: [] as NodeRecord[] };
  cluster.record.pools.push(own);
  own.nodes = cluster.allocateNodes(own, 2);
  assert.deepEqual(own.nodes.map((n) => [n.index, n.podCidr]), [[2, '10.30.0.0/25'], [3, '10.30.0.128/25']], 'its own subnet, split for 110 pods');
  pool.nodes = pool.nodes.filter((n) => n.index !== 0);
  assert.deepEqual(cluster.allocateNodes(pool, 1).map((n) => [n.index, n.podCidr, n.name.slice(-6)]), [[0, '10.244.0.0/24', '000000']], 'freed numbers and blocks are used again');
});
