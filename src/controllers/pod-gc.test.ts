import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../kube/index.js';
import { createLogger, nullSink } from '../log.js';
import { FakeApi, until } from './fake-api.js';
import { PodGarbageCollector } from './pod-gc.js';

const pod = (node: string | undefined, terminating: boolean): KubeObject => ({
  apiVersion: 'v1', kind: 'Pod', metadata: terminating ? { deletionTimestamp: '2026-03-01T10:00:30Z', deletionGracePeriodSeconds: 30 } : {},
  spec: node ? { nodeName: node } : {},
});
const node = (): KubeObject => ({ apiVersion: 'v1', kind: 'Node', metadata: {} });

test('terminating pods whose node is gone are deleted with grace 0; the rest are left alone; a deleted node frees its terminating pods', async () => {
  const api = new FakeApi();
  api.put('/api/v1/nodes/n1', node());
  api.put('/api/v1/namespaces/default/pods/orphan', pod('gone', true));
  api.put('/api/v1/namespaces/default/pods/running-on-gone', pod('gone', false));
  api.put('/api/v1/namespaces/default/pods/stopping-on-n1', pod('n1', true));
  api.put('/api/v1/namespaces/default/pods/pending', pod(undefined, false));
  const gc = new PodGarbageCollector(api, { log: createLogger('test', nullSink) });
  await gc.start();
  try {
    await until('the orphan collected', () => (api.find('/api/v1/namespaces/default/pods/orphan') === undefined) || undefined);
    assert.deepEqual(api.writes, ['DELETE /api/v1/namespaces/default/pods/orphan {"gracePeriodSeconds":0,"preconditions":{"uid":"uid-orphan"}}']);
    await until('idle', () => gc.idle || undefined);
    assert.ok(api.find('/api/v1/namespaces/default/pods/running-on-gone'), 'a pod not being deleted is not the collector\'s');
    assert.ok(api.find('/api/v1/namespaces/default/pods/stopping-on-n1'), 'its node confirms it');
    api.remove('/api/v1/nodes/n1');
    await until('the pod of the deleted node collected', () => (api.find('/api/v1/namespaces/default/pods/stopping-on-n1') === undefined) || undefined);
    api.put('/api/v1/namespaces/default/pods/running-on-gone', { ...pod('gone', true), metadata: { uid: 'uid-running-on-gone', deletionTimestamp: '2026-03-01T10:00:30Z' } });
    await until('a pod that starts terminating on a missing node collected', () => (api.find('/api/v1/namespaces/default/pods/running-on-gone') === undefined) || undefined);
    assert.ok(api.find('/api/v1/namespaces/default/pods/pending'));
  } finally {
    gc.stop();
  }
});

test('a node the informer has not seen yet is asked for before its pods are collected', async () => {
  const api = new FakeApi();
  const gc = new PodGarbageCollector(api, { log: createLogger('test', nullSink) });
  await gc.start();
  try {
    // Stored without a watch event, as when the pod's event comes before the node's.
    api.objects.set('/api/v1/nodes/new', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'new', resourceVersion: '1' } });
    api.put('/api/v1/namespaces/default/pods/early', pod('new', true));
    await until('idle', () => gc.idle || undefined);
    assert.deepEqual(api.writes, []);
  } finally {
    gc.stop();
  }
});
