import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger, nullSink } from '../log.js';
import { namespacedResources } from './discovery.js';
import { FakeApi, until } from './fake-api.js';
import { NamespaceController } from './namespace.js';

const all = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

function cluster(): FakeApi {
  const api = new FakeApi();
  api.discovery.set('/api/v1', [
    { name: 'namespaces', namespaced: false, verbs: all },
    { name: 'namespaces/finalize', namespaced: false, verbs: ['update'] },
    { name: 'pods', namespaced: true, verbs: all },
    { name: 'pods/status', namespaced: true, verbs: ['get', 'patch', 'update'] },
    { name: 'configmaps', namespaced: true, verbs: all },
    { name: 'serviceaccounts', namespaced: true, verbs: all },
    { name: 'nodes', namespaced: false, verbs: all },
  ]);
  api.discovery.set('/apis/coordination.k8s.io/v1', [{ name: 'leases', namespaced: true, verbs: all }]);
  api.discovery.set('/apis/metrics.k8s.io/v1beta1', [{ name: 'pods', namespaced: true, verbs: ['get', 'list'] }]);
  return api;
}

const namespace = (name: string, finalizers: string[], terminating: boolean): { apiVersion: string; kind: string; metadata: Record<string, string>; spec: unknown; status: unknown } => ({
  apiVersion: 'v1', kind: 'Namespace', metadata: terminating ? { name, deletionTimestamp: '2026-03-01T10:00:00Z' } : { name },
  spec: { finalizers }, status: { phase: terminating ? 'Terminating' : 'Active' },
});

test('discovery names the namespaced resources that can be listed and deleted, without subresources or computed ones', async () => {
  const found = await namespacedResources(cluster());
  assert.deepEqual(found.map((r) => `${r.groupVersion}/${r.plural}`).sort(), ['/api/v1/configmaps', '/api/v1/pods', '/api/v1/serviceaccounts', '/apis/coordination.k8s.io/v1/leases']);
});

test('a terminating namespace is emptied through the API, waits for its pods to go, then is finalized and removed', async () => {
  const api = cluster();
  api.put('/api/v1/namespaces/team-a', namespace('team-a', ['kubernetes'], false));
  api.put('/api/v1/namespaces/team-b', namespace('team-b', ['kubernetes'], false));
  api.put('/api/v1/namespaces/team-a/configmaps/settings', { apiVersion: 'v1', kind: 'ConfigMap', metadata: {} });
  api.put('/api/v1/namespaces/team-a/serviceaccounts/default', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: {} });
  api.put('/apis/coordination.k8s.io/v1/namespaces/team-a/leases/l', { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: {} });
  api.put('/api/v1/namespaces/team-a/pods/web', { apiVersion: 'v1', kind: 'Pod', metadata: {}, spec: { nodeName: 'n1' } });
  api.put('/api/v1/namespaces/team-b/configmaps/kept', { apiVersion: 'v1', kind: 'ConfigMap', metadata: {} });
  const controller = new NamespaceController(api, { log: createLogger('test', nullSink), recheckMs: 10 });
  await controller.start();
  try {
    assert.equal(api.writes.length, 0, 'an active namespace is left alone');
    api.put('/api/v1/namespaces/team-a', namespace('team-a', ['kubernetes'], true));
    await until('the pod marked for deletion', () => api.find('/api/v1/namespaces/team-a/pods/web')?.metadata.deletionTimestamp);
    for (const gone of ['/api/v1/namespaces/team-a/configmaps/settings', '/api/v1/namespaces/team-a/serviceaccounts/default', '/apis/coordination.k8s.io/v1/namespaces/team-a/leases/l']) {
      await until(`${gone} deleted`, () => (api.find(gone) === undefined) || undefined);
    }
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(api.find('/api/v1/namespaces/team-a'), 'the namespace waits while its pod stops');
    assert.ok(!api.writes.some((w) => w.includes('/finalize')));
    api.remove('/api/v1/namespaces/team-a/pods/web');
    await until('team-a gone', () => (api.find('/api/v1/namespaces/team-a') === undefined) || undefined);
    assert.deepEqual(api.writes.filter((w) => w.includes('/finalize')), ['PUT /api/v1/namespaces/team-a/finalize {"finalizers":[]}']);
    assert.ok(api.find('/api/v1/namespaces/team-b/configmaps/kept'), 'other namespaces keep what they hold');
    assert.ok(!api.writes.some((w) => w.includes('team-b')));
  } finally {
    controller.stop();
  }
});

test('only its own finalizer is taken off: a namespace with another one stays Terminating; one already finalized by us is left alone', async () => {
  const api = cluster();
  api.put('/api/v1/namespaces/shared', namespace('shared', ['example.com/backup', 'kubernetes'], true));
  api.put('/api/v1/namespaces/done', namespace('done', ['example.com/backup'], true));
  const controller = new NamespaceController(api, { log: createLogger('test', nullSink), recheckMs: 10 });
  await controller.start();
  try {
    await until('shared finalized by us', () => api.writes.find((w) => w.includes('/shared/finalize')));
    await until('idle', () => controller.idle || undefined);
    assert.deepEqual(api.find('/api/v1/namespaces/shared')?.['spec'], { finalizers: ['example.com/backup'] });
    assert.ok(!api.writes.some((w) => w.includes('/done/')), 'nothing to do for a namespace without our finalizer');
  } finally {
    controller.stop();
  }
});
