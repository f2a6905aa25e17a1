/**
 * Probe handlers against real servers on loopback: httpGet (status codes, headers, port by name), tcpSocket and
 * the gRPC health protocol (a @grpc/grpc-js server answering SERVING, NOT_SERVING, or nothing), and sleep.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import type { CriClient } from '../cri/index.js';
import type { Container } from '../kube/index.js';
import { resolvePort, runHandler, type ProbeTarget } from './probes.js';

let http: Server;
let httpPort = 0;
let grpcServer: grpc.Server;
let grpcPort = 0;
const seen: Record<string, string | undefined> = {};
const health = new Map([['', 1], ['db', 2]]);

before(async () => {
  http = createServer((req, res) => {
    seen['x-probe'] = req.headers['x-probe'] as string | undefined;
    seen['user-agent'] = req.headers['user-agent'];
    res.writeHead(req.url === '/healthz' ? 200 : req.url === '/moved' ? 302 : 503).end();
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  httpPort = (http.address() as AddressInfo).port;
  const root = new protobuf.Root().loadSync(fileURLToPath(new URL('./health.proto', import.meta.url)), { keepCase: true });
  const req = root.lookupType('grpc.health.v1.HealthCheckRequest');
  const resT = root.lookupType('grpc.health.v1.HealthCheckResponse');
  grpcServer = new grpc.Server();
  grpcServer.addService({
    Check: {
      path: '/grpc.health.v1.Health/Check', requestStream: false, responseStream: false,
      requestDeserialize: (b: Buffer) => req.toObject(req.decode(b)) as { service?: string },
      responseSerialize: (v: { status: number }) => Buffer.from(resT.encode(resT.fromObject(v)).finish()),
      requestSerialize: () => Buffer.alloc(0), responseDeserialize: () => ({}),
    },
  } as unknown as grpc.ServiceDefinition, {
    Check: (call: grpc.ServerUnaryCall<{ service?: string }, { status: number }>, cb: grpc.sendUnaryData<{ status: number }>) => {
      const status = health.get(call.request.service ?? '');
      if (status === undefined) cb({ code: grpc.status.NOT_FOUND, details: 'unknown service' });
      else cb(null, { status });
    },
  });
  grpcPort = await new Promise<number>((resolve, reject) => grpcServer.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))));
});

after(async () => {
  await new Promise<void>((r) => http.close(() => r()));
  await new Promise<void>((r) => grpcServer.tryShutdown(() => r()));
});

const container: Container = { name: 'web', ports: [{ name: 'http', containerPort: 0 }] };
const target = (): ProbeTarget => ({ cri: {} as CriClient, containerId: 'c1', container: { ...container, ports: [{ name: 'http', containerPort: httpPort }] }, podIP: '127.0.0.1', timeoutSeconds: 1 });

test('ports by number or by the name of a container port', () => {
  assert.equal(resolvePort(80, container), 80);
  assert.equal(resolvePort('8080', container), 8080);
  assert.equal(resolvePort('http', container), 0);
  assert.equal(resolvePort('nope', container), undefined);
});

test('httpGet: 2xx and 3xx pass, others fail with the status code; headers and the kube-probe user agent are sent', async () => {
  assert.deepEqual(await runHandler({ httpGet: { port: 'http', path: '/healthz', httpHeaders: [{ name: 'X-Probe', value: 'yes' }] } }, target()), { ok: true, message: 'HTTP probe succeeded with statuscode: 200' });
  assert.equal(seen['x-probe'], 'yes');
  assert.match(seen['user-agent'] ?? '', /^kube-probe\//);
  assert.equal((await runHandler({ httpGet: { port: 'http', path: '/moved' } }, target())).ok, true);
  assert.deepEqual(await runHandler({ httpGet: { port: httpPort, path: '/broken' } }, target()), { ok: false, message: 'HTTP probe failed with statuscode: 503' });
  assert.equal((await runHandler({ httpGet: { port: 'nope' } }, target())).ok, false);
});

test('tcpSocket: a listening port passes, a closed one fails with the dial error', async () => {
  assert.equal((await runHandler({ tcpSocket: { port: httpPort } }, target())).ok, true);
  const closed = await runHandler({ tcpSocket: { port: 1 } }, target());
  assert.equal(closed.ok, false);
  assert.match(closed.message, /^dial tcp 127\.0\.0\.1:1: /);
});

test('grpc: SERVING passes; NOT_SERVING and unknown services fail with the reason', async () => {
  assert.equal((await runHandler({ grpc: { port: grpcPort } }, target())).ok, true);
  assert.deepEqual(await runHandler({ grpc: { port: grpcPort, service: 'db' } }, target()), { ok: false, message: 'service unhealthy (responded with "NOT_SERVING")' });
  const unknown = await runHandler({ grpc: { port: grpcPort, service: 'other' } }, target());
  assert.match(unknown.message, /code = NOT_FOUND/);
});

test('sleep waits its seconds, and an abort ends it early', async () => {
  const stop = new AbortController();
  const t0 = Date.now();
  const pending = runHandler({ sleep: { seconds: 30 } }, { ...target(), signal: stop.signal });
  stop.abort();
  assert.equal((await pending).ok, true);
  assert.ok(Date.now() - t0 < 1000);
});
