import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KubeObject, StatsSummary } from '../kube/index.js';
import { NodeAgentStats } from './node-stats.js';
import { statusFor } from './status.js';

const summary: StatsSummary = {
  node: { nodeName: 'n1', startTime: '2026-03-01T00:00:00.000Z', cpu: { time: '2026-03-01T12:00:00.000Z', usageNanoCores: 5, windowSeconds: 10 } },
  pods: [],
};
let answer: { code: number; body: string } = { code: 200, body: JSON.stringify(summary) };
const paths: string[] = [];
const server: Server = createServer((req, res) => {
  paths.push(req.url ?? '');
  res.writeHead(answer.code, { 'Content-Type': 'application/json' }).end(answer.body);
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

const node = (port: number): KubeObject => ({
  apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' },
  status: { addresses: [{ type: 'InternalIP', address: '127.0.0.1' }], daemonEndpoints: { kubeletEndpoint: { Port: port } } },
});
const port = (server.address() as AddressInfo).port;
const rejectsWith = async (code: number, pattern: RegExp): Promise<void> => {
  await assert.rejects(new NodeAgentStats().summary(node(port)), (e: unknown) => {
    const s = statusFor(e);
    assert.equal(s.code, code);
    assert.match(s.message ?? '', pattern);
    return true;
  });
};

test('a node\'s summary is read from its agent\'s /stats/summary and checked against the schema', async () => {
  answer = { code: 200, body: JSON.stringify({ ...summary, extra: 'ignored' }) };
  assert.deepEqual(await new NodeAgentStats().summary(node(port)), summary);
  assert.equal(paths.at(-1), '/stats/summary');
  answer = { code: 200, body: JSON.stringify({ ...summary, node: { ...summary.node, cpu: { time: 'yesterday' } } }) };
  await rejectsWith(502, /node "n1" answered \/stats\/summary with a summary this API server cannot read \(node\.cpu\.time: expected an RFC 3339 time\)/);
  answer = { code: 200, body: '<html>' };
  await rejectsWith(502, /not JSON/);
  answer = { code: 404, body: 'no such path on the node agent' };
  await rejectsWith(503, /node "n1" .* HTTP 404: no such path/);
});

test('an agent that is not there, or does not say where it is, is 503 naming the node', async () => {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const gone = (closed.address() as AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  await assert.rejects(new NodeAgentStats().summary(node(gone)), (e: unknown) => statusFor(e).code === 503 && /node "n1" from its node agent at http:\/\/127\.0\.0\.1/.test(statusFor(e).message ?? ''));
  await assert.rejects(new NodeAgentStats().summary({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' } }), (e: unknown) => statusFor(e).code === 503 && /advertises no agent address/.test(statusFor(e).message ?? ''));
});
