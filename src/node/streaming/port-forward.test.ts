import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createLogger, nullSink } from '../../log.js';
import { waitUntil } from '../../wait.js';
import { PodAddressTarget, RuntimePortForwardTarget } from './port-forward-targets.js';
import { portForwardProtocol, servePortForward, type PortForwardTarget } from './port-forward.js';
import { SpdyConnection, type SpdyStream } from './spdy.js';

const log = createLogger('port-forward-test', nullSink);
const object = 'pod ns/web';

async function listen(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

/**
 * A server like busybox httpd: reads a line, answers `reply:<line>` and closes; with a line `wait-eof`, it
 * answers only after the client has half-closed. `closed` counts the connections it saw end.
 */
async function lineServer(): Promise<{ port: number; opened: () => number; closed: () => number; server: Server }> {
  let opened = 0;
  let closed = 0;
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    opened++;
    let text = '';
    socket.on('data', (d: Buffer) => {
      text += d.toString();
      if (text.endsWith('\n') && !text.startsWith('wait-eof')) socket.end(`reply:${text}`);
    });
    socket.on('end', () => {
      if (text.startsWith('wait-eof')) socket.end(`reply after eof:${text}`);
    });
    socket.on('close', () => closed++);
    socket.on('error', () => undefined);
  });
  return { port: await listen(server), opened: () => opened, closed: () => closed, server };
}

/** A port-forward server on loopback; each connection is one session with a target from `target()`. */
async function forwardServer(target: () => PortForwardTarget | Promise<PortForwardTarget>, timeoutMs?: number): Promise<{ port: number; server: Server }> {
  const server = createServer((socket) => {
    void Promise.resolve(target()).then((t) => servePortForward(socket, Buffer.alloc(0), t, { object, log, ...(timeoutMs ? { streamCreationTimeoutMs: timeoutMs } : {}) }));
  });
  return { port: await listen(server), server };
}

async function client(port: number): Promise<{ spdy: SpdyConnection; socket: Socket }> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  return { spdy: new SpdyConnection(socket, Buffer.alloc(0), { role: 'client', peer: 'the test server' }), socket };
}

const readAll = (stream: SpdyStream): Promise<string> => new Promise((resolve) => {
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  stream.once('end', () => resolve(Buffer.concat(chunks).toString()));
  stream.once('close', () => resolve(`${Buffer.concat(chunks).toString()}<closed>`));
});

/** What kubectl does per local connection: an error stream (its half closed at once), then a data stream. */
async function openPair(spdy: SpdyConnection, port: number, requestId?: string): Promise<{ data: SpdyStream; error: SpdyStream; dataText: Promise<string>; errorText: Promise<string> }> {
  const headers = { port: String(port), ...(requestId !== undefined ? { requestID: requestId } : {}) };
  const error = await spdy.openStream({ streamType: 'error', ...headers });
  error.end();
  const data = await spdy.openStream({ streamType: 'data', ...headers });
  return { data, error, dataText: readAll(data), errorText: readAll(error) };
}

/** A line server, a port-forward server whose target is its address, and a client session; closed after the test. */
async function session(t: TestContext, timeoutMs?: number): Promise<{ app: Awaited<ReturnType<typeof lineServer>>; spdy: SpdyConnection }> {
  const app = await lineServer();
  const pf = await forwardServer(() => new PodAddressTarget('127.0.0.1', object), timeoutMs);
  const c = await client(pf.port);
  t.after(() => { c.socket.destroy(); pf.server.close(); app.server.close(); });
  return { app, spdy: c.spdy };
}

test('a forwarded connection carries a request and its answer; the data and error streams both end', async (t) => {
  const { app, spdy } = await session(t);
  const pair = await openPair(spdy, app.port, '0');
  pair.data.write('GET /index.html\n');
  assert.equal(await pair.dataText, 'reply:GET /index.html\n');
  assert.equal(await pair.errorText, '', 'nothing went wrong, and the error stream ended: kubectl may close its connection');
  pair.data.end();
  await waitUntil(() => (app.closed() === 1 ? true : undefined), { timeoutMs: 5000, onTimeout: () => new Error('the far connection was not closed') });
});

test('two connections at once on one session keep their bytes apart', async (t) => {
  const { app, spdy } = await session(t);
  const first = await openPair(spdy, app.port, '0');
  const second = await openPair(spdy, app.port, '1');
  second.data.write('second\n');
  first.data.write('first\n');
  assert.deepEqual(await Promise.all([first.dataText, second.dataText]), ['reply:first\n', 'reply:second\n']);
  assert.deepEqual(await Promise.all([first.errorText, second.errorText]), ['', '']);
});

test('a half-close from the client reaches the far end, which may still answer', async (t) => {
  const { app, spdy } = await session(t);
  const pair = await openPair(spdy, app.port, '0');
  pair.data.end('wait-eof\n');
  assert.equal(await pair.dataText, 'reply after eof:wait-eof\n');
});

test('a port nobody listens on is reported on the error stream, naming the address', async (t) => {
  const dead = createServer();
  const deadPort = await listen(dead);
  await new Promise<void>((r) => dead.close(() => r()));
  const { spdy } = await session(t);
  const pair = await openPair(spdy, deadPort, '0');
  assert.equal(await pair.dataText, '', 'the data stream ends');
  assert.match(await pair.errorText, new RegExp(`^error forwarding port ${deadPort} to pod ns/web: cannot connect to 127\\.0\\.0\\.1:${deadPort}, the pod's address: .*ECONNREFUSED.*not only 127\\.0\\.0\\.1`));
});

test('streams without a requestID pair up by stream id, as old clients open them', async (t) => {
  const { app, spdy } = await session(t);
  const pair = await openPair(spdy, app.port);
  pair.data.write('no id\n');
  assert.equal(await pair.dataText, 'reply:no id\n');
});

test('streams with a bad port or type are refused; a pair left half-open times out with a message', async (t) => {
  const { spdy } = await session(t, 200);
  await assert.rejects(spdy.openStream({ streamType: 'data', port: '0', requestID: '1' }), /refused stream/);
  await assert.rejects(spdy.openStream({ streamType: 'data', port: 'http', requestID: '1' }), /refused stream/);
  await assert.rejects(spdy.openStream({ streamType: 'stdin', port: '80', requestID: '1' }), /refused stream/);
  const error = await spdy.openStream({ streamType: 'error', port: '80', requestID: '2' });
  error.end();
  assert.equal(await readAll(error), 'timed out waiting for the data stream of request 2 to pod ns/web');
});

test('a data stream the client resets closes the far connection', async (t) => {
  const { app, spdy } = await session(t);
  const pair = await openPair(spdy, app.port, '0');
  pair.data.write('wait-eof');
  await waitUntil(() => (app.opened() === 1 ? true : undefined), { timeoutMs: 5000, onTimeout: () => new Error('the far end was never connected') });
  pair.data.abort();
  await waitUntil(() => (app.closed() === 1 ? true : undefined), { timeoutMs: 5000, onTimeout: () => new Error('the far connection outlived the reset') });
});

test('through the runtime\'s port-forward: streams are opened there with the same headers, its errors are relayed', async (t) => {
  const app = await lineServer();
  // The "runtime": an HTTP server upgrading to portforward.k8s.io, forwarding to loopback like containerd does to the pod's localhost.
  const upgrades: Array<Record<string, string | string[] | undefined>> = [];
  const runtime = createHttpServer();
  runtime.on('upgrade', (req, socket: Socket, head: Buffer) => {
    upgrades.push(req.headers);
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: ${portForwardProtocol}\r\n\r\n`);
    void servePortForward(socket, head, new PodAddressTarget('127.0.0.1', 'the runtime\'s pod'), { object: 'the runtime\'s pod', log });
  });
  const runtimePort = await listen(runtime as unknown as Server);
  let target: RuntimePortForwardTarget | undefined;
  const pf = await forwardServer(async () => {
    target = await RuntimePortForwardTarget.open(`http://127.0.0.1:${runtimePort}/portforward/token`, object);
    return target;
  });
  const c = await client(pf.port);
  t.after(() => { c.socket.destroy(); pf.server.close(); app.server.close(); runtime.closeAllConnections(); runtime.close(); });
  const pair = await openPair(c.spdy, app.port, '7');
  pair.data.write('via runtime\n');
  assert.equal(await pair.dataText, 'reply:via runtime\n');
  assert.equal(await pair.errorText, '');
  assert.equal(upgrades[0]?.['x-stream-protocol-version'], portForwardProtocol);
  assert.equal(upgrades[0]?.['upgrade'], 'SPDY/3.1');
  const broken = await openPair(c.spdy, 1, '8');
  assert.equal(await broken.dataText, '');
  assert.match(await broken.errorText, /^error forwarding port 1 to the runtime's pod: .*ECONNREFUSED/, 'the runtime\'s own message, unchanged');
  let runtimeClosed = false;
  void target?.closed.then(() => { runtimeClosed = true; });
  c.socket.destroy();
  await waitUntil(() => (runtimeClosed ? true : undefined), { timeoutMs: 5000, onTimeout: () => new Error('the runtime connection outlived the session') });
});
