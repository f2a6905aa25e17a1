/** REST semantics below kubectl: body errors, content types, selectors, dry runs, deletecollection, namespaces. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, type TestCluster } from './harness.js';

let cluster: TestCluster;
const base = '/api/v1/namespaces/default/pods';
const pod = (name: string, labels: Record<string, string> = {}): Record<string, unknown> => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name, labels }, spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] },
});

before(async () => {
  cluster = await startCluster();
});

after(async () => {
  await cluster?.stop();
});

const reason = (body: unknown): string => (body as { reason?: string }).reason ?? '';

test('malformed JSON and YAML bodies are 400 BadRequest; unknown patch types 415; nothing is stored', async () => {
  let r = await cluster.client.raw('POST', base, { body: '{"apiVersion":"v1","kind":"Pod",', contentType: 'application/json' });
  assert.equal(r.code, 400);
  assert.equal(reason(r.body), 'BadRequest');
  assert.match((r.body as { message: string }).message, /the request body is not valid JSON/);
  r = await cluster.client.raw('POST', base, { body: 'kind: Pod\nmetadata: [unclosed', contentType: 'application/yaml' });
  assert.equal(r.code, 400);
  assert.match((r.body as { message: string }).message, /not valid YAML/);
  r = await cluster.client.raw('POST', base, { body: { ...pod('wrongkind'), kind: 'Node' } });
  assert.equal(r.code, 400);
  assert.match((r.body as { message: string }).message, /this path serves v1, Kind=Pod/);
  await cluster.client.create(base, pod('target'));
  r = await cluster.client.raw('PATCH', `${base}/target`, { body: '{}', contentType: 'text/plain' });
  assert.equal(r.code, 415);
  assert.equal((await cluster.client.list(base)).items.length, 1);
});

test('dryRun=All validates and answers without storing', async () => {
  const r = await cluster.client.raw('POST', `${base}?dryRun=All`, { body: pod('dry') });
  assert.equal(r.code, 201);
  assert.equal((r.body as { metadata: { name: string } }).metadata.name, 'dry');
  assert.equal((await cluster.client.raw('GET', `${base}/dry`)).code, 404);
});

test('field selectors support != and escaped values; unknown fields are 400', async () => {
  await cluster.client.create(base, pod('failed-one'));
  await cluster.client.call('PATCH', `${base}/failed-one/status`, { contentType: 'application/merge-patch+json', body: { status: { phase: 'Failed' } } });
  const notFailed = await cluster.client.list(`${base}?fieldSelector=${encodeURIComponent('status.phase!=Failed,status.phase!=Succeeded')}`);
  assert.ok(!notFailed.items.some((p) => p.metadata.name === 'failed-one'));
  assert.ok(notFailed.items.some((p) => p.metadata.name === 'target'));
  await cluster.client.create('/api/v1/namespaces/default/events', {
    apiVersion: 'v1', kind: 'Event', metadata: { name: 'odd' }, involvedObject: { kind: 'Pod', name: 'a,b=c', namespace: 'default', uid: 'u1' }, reason: 'Odd', message: 'm', type: 'Normal',
  });
  const sel = ['involvedObject.uid=u1', 'involvedObject.name=a\\,b\\=c', 'involvedObject.kind=Pod'].join(',');
  const events = await cluster.client.list(`/api/v1/namespaces/default/events?fieldSelector=${encodeURIComponent(sel)}`);
  assert.deepEqual(events.items.map((e) => e.metadata.name), ['odd']);
  const bad = await cluster.client.raw('GET', `${base}?fieldSelector=spec.bogus%3Dx`);
  assert.equal(bad.code, 400);
  assert.match((bad.body as { message: string }).message, /field label not supported: spec.bogus/);
});

test('deletecollection removes what the selector matches and nothing else', async () => {
  for (const n of ['dc-1', 'dc-2']) await cluster.client.create(base, pod(n, { batch: 'x' }));
  await cluster.client.create(base, pod('dc-keep', { batch: 'y' }));
  const r = await cluster.client.raw('DELETE', `${base}?labelSelector=batch%3Dx`);
  assert.equal(r.code, 200);
  const names = (await cluster.client.list(base)).items.map((p) => p.metadata.name);
  assert.ok(!names.includes('dc-1') && !names.includes('dc-2'));
  assert.ok(names.includes('dc-keep'));
});

test('creating in a missing namespace is 404; in a terminating one 403', async () => {
  let r = await cluster.client.raw('POST', '/api/v1/namespaces/nowhere/pods', { body: pod('lost') });
  assert.equal(r.code, 404);
  assert.match((r.body as { message: string }).message, /namespaces "nowhere" not found/);
  await cluster.client.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'closing' } });
  await cluster.client.create('/api/v1/namespaces/closing/pods', { ...pod('pinned'), spec: { nodeName: 'absent-node', containers: [{ name: 'c', image: 'busybox:1.36' }] } });
  await cluster.client.delete('/api/v1/namespaces/closing');
  r = await cluster.client.raw('POST', '/api/v1/namespaces/closing/pods', { body: pod('late') });
  assert.equal(r.code, 403);
  assert.match((r.body as { message: string }).message, /unable to create new content in namespace closing because it is being terminated/);
});
