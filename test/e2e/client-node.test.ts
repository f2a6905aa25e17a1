/** A second real client: @kubernetes/client-node lists, watches and runs an informer against Sandpod's API server. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { CoreV1Api, KubeConfig, Watch, makeInformer, type V1Pod } from '@kubernetes/client-node';
import { startCluster, waitUntil, type TestCluster } from './harness.js';

let cluster: TestCluster;
let kc: KubeConfig;

before(async () => {
  cluster = await startCluster();
  kc = new KubeConfig();
  kc.loadFromFile(cluster.state.kubeconfig);
});

after(async () => {
  await cluster?.stop();
});

const pod = (name: string): V1Pod => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name, labels: { client: 'node' } },
  spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] },
});

test('client-node creates, lists with a label selector and watches pods', async () => {
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespacedPod({ namespace: 'default', body: pod('one') });
  const list = await core.listNamespacedPod({ namespace: 'default', labelSelector: 'client=node' });
  assert.deepEqual(list.items.map((p) => p.metadata?.name), ['one']);
  assert.ok(list.metadata?.resourceVersion);
  const ns = await core.listNamespace();
  assert.ok(ns.items.some((n) => n.metadata?.name === 'kube-system'));

  const seen: string[] = [];
  const controller = await new Watch(kc).watch('/api/v1/namespaces/default/pods', { resourceVersion: list.metadata?.resourceVersion, labelSelector: 'client=node' },
    (phase, obj: V1Pod) => seen.push(`${phase} ${obj.metadata?.name ?? ''}`), () => undefined);
  try {
    await core.createNamespacedPod({ namespace: 'default', body: pod('two') });
    await core.patchNamespacedPod({ name: 'one', namespace: 'default', body: [{ op: 'add', path: '/metadata/labels/extra', value: 'yes' }] });
    await core.deleteNamespacedPod({ name: 'two', namespace: 'default' });
    await waitUntil('watch events', () => (seen.length >= 3 ? true : undefined));
    assert.deepEqual(seen, ['ADDED two', 'MODIFIED one', 'DELETED two']);
  } finally {
    controller.abort();
  }
  const err = await core.readNamespacedPod({ name: 'missing', namespace: 'default' }).catch((e: unknown) => e);
  assert.equal((err as { code?: number }).code, 404);
});

test('client-node informer keeps a cache in step', async () => {
  const core = kc.makeApiClient(CoreV1Api);
  const informer = makeInformer(kc, '/api/v1/namespaces/default/pods', () => core.listNamespacedPod({ namespace: 'default' }));
  const added: string[] = [];
  informer.on('add', (p: V1Pod) => added.push(p.metadata?.name ?? ''));
  await informer.start();
  try {
    await core.createNamespacedPod({ namespace: 'default', body: pod('three') });
    await waitUntil('informer add', () => added.includes('three') || undefined);
    assert.ok(informer.list('default').some((p) => p.metadata?.name === 'three'));
  } finally {
    await informer.stop();
  }
});
