/**
 * The event recorder against the real API server: what a crash loop reports (the same BackOff again and again,
 * and failures whose messages differ) ends up as a handful of Events with counts, which kubectl prints.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventRecorder, kubeEventSink, type KubeList, type KubeObject } from '../../src/kube/index.js';
import { gatedPod, startCluster, type TestCluster } from './harness.js';

let cluster: TestCluster;

before(async () => {
  cluster = await startCluster();
});

after(async () => {
  await cluster?.stop();
});

test('a crash loop\'s 1,000 reports become a few Events: repeats patched with count and series, different messages combined', async () => {
  const crashy = await cluster.client.create('/api/v1/namespaces/default/pods', gatedPod('crashy'));
  const failing = await cluster.client.create('/api/v1/namespaces/default/pods', gatedPod('failing'));
  const errors: unknown[] = [];
  const recorder = new EventRecorder(kubeEventSink(cluster.client), { component: 'kubelet', host: 'node-1' }, { onError: (e) => errors.push(e) });
  for (let i = 0; i < 1000; i++) void recorder.record({ ...crashy, apiVersion: 'v1', kind: 'Pod' }, 'Warning', 'BackOff', 'Back-off restarting failed container app in pod crashy');
  for (let i = 1; i <= 20; i++) void recorder.record({ ...failing, apiVersion: 'v1', kind: 'Pod' }, 'Warning', 'Failed', `Error: exit code ${i}`);
  await recorder.flush();
  assert.deepEqual(errors, []);

  const eventsOf = async (name: string): Promise<KubeObject[]> =>
    (await cluster.client.list(`/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3D${name}`) as KubeList).items;
  const backOff = await eventsOf('crashy');
  assert.equal(backOff.length, 1, 'one BackOff Event');
  // The object's allowance (25 at once) is spent on the first 25 reports; the rest wait for it to refill.
  assert.equal(backOff[0]!['count'], 25);
  assert.equal((backOff[0]!['series'] as { count: number }).count, 25);
  const failed = (await eventsOf('failing')).map((e) => `${String(e['message'])} x${String(e['count'])}`).sort();
  assert.deepEqual(failed, [
    '(combined from similar events): Error: exit code 20 x11',
    ...Array.from({ length: 9 }, (_, i) => `Error: exit code ${i + 1} x1`),
  ].sort());

  const wide = await cluster.kubectl(['get', 'events', '--field-selector', 'involvedObject.name=crashy', '-o', 'wide']);
  assert.equal(wide.code, 0, wide.stderr);
  assert.match(wide.stdout, /Warning\s+BackOff\s+pod\/crashy\s+kubelet, node-1\s+Back-off restarting failed container app in pod crashy\s+\S+\s+25\s+crashy\./);
  const described = await cluster.kubectl(['describe', 'pod', 'crashy']);
  assert.match(described.stdout, /Warning\s+BackOff\s+\S+ \(x25 over \S+\)\s+kubelet\s+Back-off restarting/);
});
