/** Scheduling onto test-double nodes, graceful pod deletion and namespace termination, through kubectl. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, waitUntil, type TestCluster } from './harness.js';
import { TestNode } from './test-node.js';

let cluster: TestCluster;
const nodes: TestNode[] = [];

before(async () => {
  cluster = await startCluster();
  nodes.push(
    new TestNode(cluster.client, 'std-1', { memory: '4Gi' }),
    new TestNode(cluster.client, 'std-2', { memory: '4Gi' }),
    new TestNode(cluster.client, 'vm-1', {
      memory: '2Gi',
      labels: { 'kubernetes.azure.com/kata-vm-isolation': 'true' },
      taints: [{ key: 'kubernetes.azure.com/kata-vm-isolation', value: 'true', effect: 'NoSchedule' }],
    }),
    new TestNode(cluster.client, 'gone-1', { memory: '4Gi', labels: { pool: 'gone' }, passive: true }),
  );
  for (const n of nodes) await n.start();
});

after(async () => {
  for (const n of nodes) await n.stop();
  await cluster?.stop();
});

const pod = (name: string, extra = '', memory = '128Mi'): string => `apiVersion: v1
kind: Pod
metadata: {name: ${name}}
spec:
${extra}  containers:
  - name: app
    image: busybox:1.36
    resources: {requests: {memory: ${memory}}}
`;

async function nodeOf(name: string): Promise<string> {
  return waitUntil(`pod ${name} scheduled`, async () => {
    const r = await cluster.kubectl(['get', 'pod', name, '-o', 'jsonpath={.spec.nodeName}']);
    return r.stdout || undefined;
  });
}

test('a kata-vm-isolation pod lands only on the node labelled for VM isolation', async () => {
  for (let i = 0; i < 3; i++) {
    const r = await cluster.kubectl(['create', '-f', '-'], { input: pod(`vm-${i}`, '  runtimeClassName: kata-vm-isolation\n') });
    assert.equal(r.code, 0, r.stderr);
  }
  for (let i = 0; i < 3; i++) assert.equal(await nodeOf(`vm-${i}`), 'vm-1');
  for (let i = 0; i < 3; i++) {
    assert.equal((await cluster.kubectl(['create', '-f', '-'], { input: pod(`std-${i}`, '  runtimeClassName: runc\n') })).code, 0);
    assert.match(await nodeOf(`std-${i}`), /^(std-1|std-2|gone-1)$/);
  }
  const wait = await cluster.kubectl(['wait', '--for=condition=PodScheduled', 'pod/vm-0', '--timeout=10s']);
  assert.equal(wait.code, 0, wait.stderr);
});

test('a pod too big for every node stays Pending with a FailedScheduling event, and is placed once a node fits', async () => {
  assert.equal((await cluster.kubectl(['create', '-f', '-'], { input: pod('huge', '  runtimeClassName: kata-vm-isolation\n', '16Gi') })).code, 0);
  const message = "0/4 nodes are available: 3 node(s) didn't match Pod's node affinity/selector, 1 Insufficient memory.";
  await waitUntil('FailedScheduling event', async () => {
    const r = await cluster.kubectl(['describe', 'pod', 'huge']);
    return r.stdout.includes(message) || undefined;
  });
  const r = await cluster.kubectl(['get', 'pod', 'huge', '-o', 'jsonpath={.status.phase} {.spec.nodeName}']);
  assert.equal(r.stdout, 'Pending ');
  const events = await cluster.kubectl(['get', 'events', '--field-selector', 'involvedObject.name=huge,reason=FailedScheduling']);
  assert.match(events.stdout, /Warning\s+FailedScheduling\s+pod\/huge/);
  const big = new TestNode(cluster.client, 'vm-big', { memory: '32Gi', labels: { 'kubernetes.azure.com/kata-vm-isolation': 'true' } });
  nodes.push(big);
  await big.start();
  assert.equal(await nodeOf('huge'), 'vm-big');
});

test('a pod with scheduling gates waits until they are removed', async () => {
  assert.equal((await cluster.kubectl(['create', '-f', '-'], { input: pod('gated', '  schedulingGates: [{name: example.com/wait}]\n') })).code, 0);
  assert.equal((await cluster.kubectl(['create', '-f', '-'], { input: pod('after-gated') })).code, 0);
  await nodeOf('after-gated');
  const r = await cluster.kubectl(['get', 'pod', 'gated', '-o', 'jsonpath={.spec.nodeName}']);
  assert.equal(r.stdout, '', 'a later pod was scheduled, the gated one must not be');
  const patch = await cluster.kubectl(['patch', 'pod', 'gated', '--type=json', '-p', '[{"op":"remove","path":"/spec/schedulingGates"}]']);
  assert.equal(patch.code, 0, patch.stderr);
  assert.match(await nodeOf('gated'), /^(std-1|std-2|gone-1|vm-big)$/);
});

test('graceful deletion: unscheduled pods go at once, scheduled pods wait for their node to confirm', async () => {
  assert.equal((await cluster.kubectl(['create', '-f', '-'], { input: pod('nowhere', '  nodeSelector: {pool: none}\n') })).code, 0);
  let r = await cluster.kubectl(['delete', 'pod', 'nowhere', '--wait=false']);
  assert.equal(r.code, 0, r.stderr);
  assert.match((await cluster.kubectl(['get', 'pod', 'nowhere'])).stderr, /not found/);

  assert.equal((await cluster.kubectl(['create', '-f', '-'], { input: pod('stuck', '  nodeSelector: {pool: gone}\n') })).code, 0);
  assert.equal(await nodeOf('stuck'), 'gone-1');
  r = await cluster.kubectl(['delete', 'pod', 'stuck', '--wait=false']);
  assert.equal(r.code, 0, r.stderr);
  r = await cluster.kubectl(['get', 'pod', 'stuck']);
  assert.match(r.stdout, /stuck\s+0\/1\s+Terminating/);
  const ts = await cluster.kubectl(['get', 'pod', 'stuck', '-o', 'jsonpath={.metadata.deletionTimestamp} {.metadata.deletionGracePeriodSeconds}']);
  assert.match(ts.stdout, /^\d{4}-\d\d-\d\dT\S+Z 30$/);
  r = await cluster.kubectl(['delete', 'pod', 'stuck', '--grace-period=0', '--force']);
  assert.equal(r.code, 0, r.stderr);
  assert.match((await cluster.kubectl(['get', 'pod', 'stuck'])).stderr, /not found/);

  // A terminating pod whose node is gone is collected, like kube's pod GC does.
  assert.equal((await cluster.kubectl(['create', '-f', '-'], { input: pod('orphan', '  nodeSelector: {pool: gone}\n') })).code, 0);
  assert.equal(await nodeOf('orphan'), 'gone-1');
  assert.equal((await cluster.kubectl(['delete', 'pod', 'orphan', '--wait=false'])).code, 0);
  assert.equal((await cluster.kubectl(['delete', 'node', 'gone-1'])).code, 0);
  await waitUntil('the orphan to be collected', async () => /not found/.test((await cluster.kubectl(['get', 'pod', 'orphan'])).stderr) || undefined);

  assert.equal((await cluster.kubectl(['create', '-f', '-'], { input: pod('confirmed', '  nodeSelector: {kubernetes.io/hostname: std-2}\n') })).code, 0);
  await nodeOf('confirmed');
  r = await cluster.kubectl(['delete', 'pod', 'confirmed', '--timeout=20s']);
  assert.equal(r.code, 0, r.stderr);
  assert.match((await cluster.kubectl(['get', 'pod', 'confirmed'])).stderr, /not found/);
});

test('deleting a namespace removes what it holds', async () => {
  // kubectl sends this one as protobuf.
  const ns = await cluster.kubectl(['create', 'namespace', 'team-a']);
  assert.equal(ns.code, 0, ns.stderr);
  assert.equal((await cluster.kubectl(['-n', 'team-a', 'create', '-f', '-'], { input: pod('p1', '  nodeSelector: {kubernetes.io/hostname: std-1}\n') })).code, 0);
  assert.equal((await cluster.kubectl(['-n', 'team-a', 'create', '-f', '-'], { input: pod('p2', '  nodeSelector: {pool: none}\n') })).code, 0);
  await waitUntil('p1 scheduled', async () => (await cluster.kubectl(['-n', 'team-a', 'get', 'pod', 'p1', '-o', 'jsonpath={.spec.nodeName}'])).stdout || undefined);
  const r = await cluster.kubectl(['delete', 'namespace', 'team-a', '--timeout=30s']);
  assert.equal(r.code, 0, r.stderr);
  assert.match((await cluster.kubectl(['get', 'namespace', 'team-a'])).stderr, /not found/);
  const create = await cluster.kubectl(['delete', 'namespace', 'default']);
  assert.match(create.stderr, /this namespace may not be deleted/);
});

test('kubectl drain cordons the node and deletes its pods (protobuf DeleteOptions)', async () => {
  assert.equal((await cluster.kubectl(['create', '-f', '-'], { input: pod('drained', '  nodeSelector: {kubernetes.io/hostname: std-2}\n') })).code, 0);
  assert.equal(await nodeOf('drained'), 'std-2');
  const r = await cluster.kubectl(['drain', 'std-2', '--force', '--ignore-daemonsets', '--grace-period=0', '--timeout=30s']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /node\/std-2 drained/);
  assert.match((await cluster.kubectl(['get', 'pod', 'drained'])).stderr, /not found/);
  const node = await cluster.kubectl(['get', 'node', 'std-2']);
  assert.match(node.stdout, /std-2\s+Ready,SchedulingDisabled/);
});

test('a node whose Lease stops being renewed becomes NotReady and unreachable, and gets no pods', async () => {
  const silent = new TestNode(cluster.client, 'silent', { passive: true, labels: { pool: 'silent' } });
  nodes.push(silent);
  await silent.start();
  const stale = new Date(Date.now() - 120_000).toISOString().replace(/\.\d{3}Z$/, '.000000Z');
  await cluster.client.create('/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', {
    apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'silent' },
    spec: { holderIdentity: 'silent', leaseDurationSeconds: 40, renewTime: stale },
  });
  await waitUntil('silent NotReady', async () => /silent\s+NotReady/.test((await cluster.kubectl(['get', 'node', 'silent'])).stdout) || undefined);
  const taints = await cluster.kubectl(['get', 'node', 'silent', '-o', 'jsonpath={.spec.taints[*].key}']);
  assert.match(taints.stdout, /node\.kubernetes\.io\/unreachable/);
  assert.equal((await cluster.kubectl(['create', '-f', '-'], { input: pod('to-silent', '  nodeSelector: {pool: silent}\n') })).code, 0);
  await waitUntil('FailedScheduling for to-silent', async () =>
    /untolerated taint \{node\.kubernetes\.io\/not-ready: \}|untolerated taint \{node\.kubernetes\.io\/unreachable: \}/.test((await cluster.kubectl(['describe', 'pod', 'to-silent'])).stdout) || undefined);
  // Nodes without a Lease are left as their status says: std-1 is still Ready.
  assert.match((await cluster.kubectl(['get', 'node', 'std-1'])).stdout, /std-1\s+Ready/);
});
