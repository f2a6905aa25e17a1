/** kubectl logs and exec through the API server to a test-double node agent (docs/node-streaming.md). */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { kubectlVersions, startCluster, waitUntil, type TestCluster } from './harness.js';
import { TestNode } from './test-node.js';

let cluster: TestCluster;
let node: TestNode;

before(async () => {
  cluster = await startCluster();
  node = new TestNode(cluster.client, 'stream-node');
  await node.start();
  const r = await cluster.kubectl(['create', '-f', '-'], {
    input: 'apiVersion: v1\nkind: Pod\nmetadata: {name: shell}\nspec:\n  containers:\n  - {name: main, image: busybox:1.36}\n  - {name: side, image: busybox:1.36}\n',
  });
  assert.equal(r.code, 0, r.stderr);
  await waitUntil('pod Running', async () => (await cluster.kubectl(['get', 'pod', 'shell'])).stdout.includes('Running') || undefined);
});

after(async () => {
  await node?.stop();
  await cluster?.stop();
});

test('kubectl logs reads the container log from the node agent, and follows it', async () => {
  let r = await cluster.kubectl(['logs', 'shell', '-c', 'side']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'log of default/shell/side line 1\nlog of default/shell/side line 2\n');
  r = await cluster.kubectl(['logs', '-f', 'shell']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'log of default/shell/main line 1\nfollowed line 2\nfollowed line 3\nfollowed line 4\n');
  assert.ok(node.requests.some((u) => u.startsWith('/containerLogs/default/shell/main?') && u.includes('follow=true')));
  r = await cluster.kubectl(['logs', 'shell', '-c', 'nope']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /container nope is not valid for pod shell/);
});

for (const [version, binary] of Object.entries(kubectlVersions)) {
  test(`kubectl ${version} exec over WebSocket v5: output, stdin, exit codes`, async () => {
    let r = await cluster.kubectl(['exec', 'shell', '--', 'echo', 'hello', 'world'], { binary });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'hello world\n');
    r = await cluster.kubectl(['exec', '-i', 'shell', '-c', 'side', '--', 'cat'], { binary, input: 'from stdin\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'from stdin\n');
    r = await cluster.kubectl(['exec', 'shell', '--', 'exit', '3'], { binary });
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /command terminated with exit code 3/);
    assert.ok(node.requests.some((u) => u.startsWith('/exec/default/shell/side?') && u.includes('command=cat') && u.includes('stdin=true')));
  });
}

test('kubectl attach reaches the node agent\'s attach endpoint', async () => {
  const r = await cluster.kubectl(['attach', 'shell', '-c', 'side']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /attached to side/);
  assert.ok(node.requests.some((u) => u.startsWith('/attach/default/shell/side?')));
});

test('exec into a pod whose node advertises no agent fails with a clear message', async () => {
  await cluster.client.create('/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'mute', labels: { pool: 'mute' } } });
  await cluster.client.call('PATCH', '/api/v1/nodes/mute/status', {
    contentType: 'application/merge-patch+json', body: { status: { conditions: [{ type: 'Ready', status: 'True' }], allocatable: { cpu: '1', memory: '1Gi' } } },
  });
  await cluster.kubectl(['create', '-f', '-'], { input: 'apiVersion: v1\nkind: Pod\nmetadata: {name: quiet}\nspec:\n  nodeSelector: {pool: mute}\n  containers: [{name: c, image: busybox:1.36}]\n' });
  await waitUntil('quiet scheduled', async () => (await cluster.kubectl(['get', 'pod', 'quiet', '-o', 'jsonpath={.spec.nodeName}'])).stdout || undefined);
  const r = await cluster.kubectl(['logs', 'quiet']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /node "mute" advertises no agent address/);
  for (const binary of Object.values(kubectlVersions)) {
    const e = await cluster.kubectl(['exec', 'quiet', '--', 'true'], { binary });
    assert.notEqual(e.code, 0);
    assert.match(e.stderr, /node "mute" advertises no agent address/, 'the reason reaches kubectl over the error channel');
  }
});
