/** kubectl logs, exec and port-forward through the API server to a test-double node agent (docs/node-streaming.md). */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { join } from 'node:path';
import { kubectlVersions, startCluster, waitUntil, type TestCluster } from './harness.js';
import { httpGet, portForwardKubectls, startPortForward } from './port-forward-client.js';
import { TestNode } from './test-node.js';

let cluster: TestCluster;
let node: TestNode;
/** What the test node's pods "listen on": their ports are this machine's loopback. */
let web: Server;
let webPort = 0;

before(async () => {
  cluster = await startCluster();
  node = new TestNode(cluster.client, 'stream-node');
  await node.start();
  const r = await cluster.kubectl(['create', '-f', '-'], {
    input: 'apiVersion: v1\nkind: Pod\nmetadata: {name: shell}\nspec:\n  containers:\n  - {name: main, image: busybox:1.36}\n  - {name: side, image: busybox:1.36}\n',
  });
  assert.equal(r.code, 0, r.stderr);
  await waitUntil('pod Running', async () => (await cluster.kubectl(['get', 'pod', 'shell'])).stdout.includes('Running') || undefined);
  web = createServer((req, res) => res.end(`served ${req.url ?? ''}\n`));
  web.listen(0, '127.0.0.1');
  await once(web, 'listening');
  const address = web.address();
  webPort = typeof address === 'object' && address ? address.port : 0;
});

after(async () => {
  web?.closeAllConnections();
  web?.close();
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

const portForwardArgs = (...args: string[]): string[] => ['--kubeconfig', cluster.state.kubeconfig, '--cache-dir', join(cluster.root, 'kubectl-cache'), 'port-forward', ...args];

for (const [version, binary] of Object.entries(portForwardKubectls)) {
  test(`kubectl ${version} port-forward through the API server: two connections at once, then one more`, async () => {
    const before = node.requests.filter((u) => u === '/portForward/default/shell').length;
    // -v=4 shows whether the WebSocket tunnel was taken or kubectl fell back to SPDY.
    const pf = await startPortForward(binary, portForwardArgs('-v=4', 'pod/shell', `:${webPort}`));
    try {
      const [a, b] = await Promise.all([httpGet(pf.localPort, '/a'), httpGet(pf.localPort, '/b')]);
      assert.deepEqual([a.status, a.body.toString(), b.status, b.body.toString()], [200, 'served /a\n', 200, 'served /b\n']);
      const c = await httpGet(pf.localPort, '/c');
      assert.equal(c.body.toString(), 'served /c\n', 'the session serves connections after the first ones ended');
    } finally {
      await pf.stop();
    }
    assert.doesNotMatch(pf.output(), /fallback|^E\d{4}/m, 'kubectl reported nothing wrong and did not fall back');
    assert.equal(node.requests.filter((u) => u === '/portForward/default/shell').length, before + 1, 'one session on the node agent');
    if (version !== '1.30') assert.match(pf.output(), /Before WebSocket Upgrade Connection/, 'kubectl ≥ 1.31 tunnels SPDY through a WebSocket');
  });
}

test('KUBECTL_PORT_FORWARD_WEBSOCKETS switches the protocol: 1.30 tunnels with true, 1.33 speaks SPDY with false', async () => {
  const cases = [['1.30', 'true', true], ['1.33', 'false', false]] as const;
  for (const [version, setting, tunnels] of cases) {
    const binary = portForwardKubectls[version];
    if (!binary) continue;
    const pf = await startPortForward(binary, portForwardArgs('-v=4', 'pod/shell', `:${webPort}`), { ...process.env, KUBECTL_PORT_FORWARD_WEBSOCKETS: setting });
    try {
      assert.equal((await httpGet(pf.localPort, '/switched')).body.toString(), 'served /switched\n');
    } finally {
      await pf.stop();
    }
    assert.equal(/Before WebSocket Upgrade Connection/.test(pf.output()), tunnels, `kubectl ${version} with KUBECTL_PORT_FORWARD_WEBSOCKETS=${setting}`);
    assert.doesNotMatch(pf.output(), /fallback/);
  }
});

test('port-forward to a port nobody listens on: kubectl shows the node agent\'s reason', async () => {
  const closed = createServer();
  closed.listen(0, '127.0.0.1');
  await once(closed, 'listening');
  const address = closed.address();
  const deadPort = typeof address === 'object' && address ? address.port : 0;
  await new Promise<void>((r) => closed.close(() => r()));
  const pf = await startPortForward(portForwardKubectls['1.32'] ?? kubectlVersions['1.32']!, portForwardArgs('pod/shell', `:${deadPort}`));
  try {
    await assert.rejects(httpGet(pf.localPort, '/'));
    await waitUntil('kubectl to print the reason', async () => /cannot connect to 127\.0\.0\.1:\d+, the pod's address/.test(pf.output()) || undefined);
    assert.match(pf.output(), new RegExp(`error forwarding port ${deadPort} to pod default/shell`));
  } finally {
    await pf.stop();
  }
});

test('port-forward to a pod that does not exist is refused with its name', async () => {
  const r = await cluster.kubectl(['port-forward', 'pod/nonesuch', '8080:80']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /pods "nonesuch" not found/);
});
