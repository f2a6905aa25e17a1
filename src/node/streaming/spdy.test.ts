import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { constants, createDeflate } from 'node:zlib';
import { HeaderDecoder, HeaderEncoder, spdy3Dictionary } from './spdy-headers.js';
import { frameType, SpdyConnection, type SpdyStream } from './spdy.js';

function adler32(data: Buffer): number {
  let a = 1;
  let b = 0;
  for (const byte of data) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/** A compressor like Go's spdystream framer: one zlib stream with the SPDY/3 dictionary, best level, a sync flush per block. */
function goLikeCompressor(): (block: Buffer) => Promise<Buffer> {
  const z = createDeflate({ dictionary: spdy3Dictionary, level: 9 });
  const out: Buffer[] = [];
  z.on('data', (c: Buffer) => out.push(c));
  return (block) => new Promise((resolve) => {
    z.write(block);
    z.flush(constants.Z_SYNC_FLUSH, () => setImmediate(() => resolve(Buffer.concat(out.splice(0)))));
  });
}

function nameValueBlock(headers: Record<string, string>): Buffer {
  const u32 = (n: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; };
  const parts = [u32(Object.keys(headers).length)];
  for (const [k, v] of Object.entries(headers)) parts.push(u32(k.length), Buffer.from(k), u32(Buffer.byteLength(v)), Buffer.from(v));
  return Buffer.concat(parts);
}

/** A connected client and server SpdyConnection over loopback TCP. */
async function connectionPair(onStream?: (s: SpdyStream) => void): Promise<{ client: SpdyConnection; server: SpdyConnection; clientSocket: Socket; serverSocket: Socket; close(): void }> {
  const listener = createServer();
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const address = listener.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const accepted = once(listener, 'connection') as Promise<[Socket]>;
  const clientSocket = connect(port, '127.0.0.1');
  await once(clientSocket, 'connect');
  const [serverSocket] = await accepted;
  listener.close();
  const server = new SpdyConnection(serverSocket, Buffer.alloc(0), { role: 'server', peer: 'the test client', ...(onStream ? { onStream } : {}) });
  const client = new SpdyConnection(clientSocket, Buffer.alloc(0), { role: 'client', peer: 'the test server' });
  return { client, server, clientSocket, serverSocket, close: () => { clientSocket.destroy(); serverSocket.destroy(); } };
}

/** What the peer sends until its FIN (events, not async iteration, which would destroy the duplex at the end). */
const readAll = (stream: SpdyStream): Promise<string> => new Promise((resolve, reject) => {
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  stream.once('end', () => resolve(Buffer.concat(chunks).toString()));
  stream.once('close', () => reject(new Error(`stream ${stream.id} closed before its end`)));
});

test('the SPDY/3 dictionary is the one zlib headers name by Adler-32 0xe3c6a7c2', () => {
  assert.equal(spdy3Dictionary.length, 1423);
  assert.equal(adler32(spdy3Dictionary), 0xe3c6a7c2);
});

test('header blocks compressed the way Go does it decode in order, back-references into earlier blocks included', async () => {
  const compress = goLikeCompressor();
  const decoder = new HeaderDecoder();
  const first = { streamtype: 'error', port: '8080', requestid: '0' };
  const second = { streamtype: 'data', port: '8080', requestid: '0' };
  const blocks = [await compress(nameValueBlock(first)), await compress(nameValueBlock(second)), await compress(nameValueBlock(first))];
  assert.equal((blocks[0]?.[1] ?? 0) & 0x20, 0x20, 'the zlib stream names a preset dictionary');
  assert.ok((blocks[2]?.length ?? 0) < (blocks[0]?.length ?? 0), 'the repeated block refers back to the first');
  assert.deepEqual(blocks.map((b) => decoder.decode(b)), [first, second, first]);
  assert.throws(() => new HeaderDecoder().decode(Buffer.from([1, 2, 3])), /does not start a zlib stream/);
});

test('our own stored blocks decode too, and names go lower-cased', () => {
  const encoder = new HeaderEncoder();
  const decoder = new HeaderDecoder();
  assert.deepEqual(decoder.decode(encoder.encode({ streamType: 'data', Port: '80' })), { streamtype: 'data', port: '80' });
  assert.deepEqual(decoder.decode(encoder.encode({})), {});
});

test('a stream opened by the client is accepted by the server; data and half-closes go both ways', async (t) => {
  const seen: SpdyStream[] = [];
  const pair = await connectionPair((s) => {
    seen.push(s);
    s.accept();
    void readAll(s).then((text) => s.end(`echo: ${text}`));
  });
  t.after(() => pair.close());
  const stream = await pair.client.openStream({ streamType: 'data', port: '80' });
  assert.deepEqual(seen[0]?.headers, { streamtype: 'data', port: '80' });
  assert.equal(stream.id, 1);
  stream.end('hello');
  assert.equal(await readAll(stream), 'echo: hello', 'the server read to our FIN, then answered and sent its own');
  const second = await pair.client.openStream({ streamType: 'error' });
  assert.equal(second.id, 3, 'client stream ids are odd and rising');
  second.end();
  assert.equal(await readAll(second), 'echo: ');
});

test('a refused stream rejects openStream; the client\'s pings are answered', async (t) => {
  const pair = await connectionPair((s) => (s.headers['port'] === 'refuse' ? s.reject() : s.accept()));
  t.after(() => pair.close());
  await assert.rejects(pair.client.openStream({ port: 'refuse' }), /refused stream 1/);
  const pong = new Promise<Buffer>((resolve) => pair.clientSocket.once('data', (d: Buffer) => resolve(d)));
  const ping = Buffer.alloc(12);
  ping.writeUInt16BE(0x8003, 0);
  ping.writeUInt16BE(frameType.ping, 2);
  ping.writeUInt32BE(4, 4);
  ping.writeUInt32BE(7, 8);
  pair.clientSocket.write(ping);
  assert.deepEqual(await pong, ping, 'the client\'s ping (odd id) comes back as it was sent');
});

test('a reset from the peer closes the stream without an end; our reset reaches the peer', async (t) => {
  let serverStream: SpdyStream | undefined;
  const pair = await connectionPair((s) => {
    serverStream = s;
    s.accept();
  });
  t.after(() => pair.close());
  const stream = await pair.client.openStream({ port: '1' });
  assert.ok(serverStream);
  const peer = serverStream;
  const closedWithoutEnd = new Promise<boolean>((resolve) => {
    let ended = false;
    peer.on('end', () => { ended = true; });
    peer.on('close', () => resolve(!ended));
    peer.resume();
  });
  stream.abort();
  assert.equal(await closedWithoutEnd, true);
  assert.equal(stream.destroyed, true);
});

test('a large transfer arrives whole and in order while the reader is slow (connection backpressure)', async (t) => {
  let received: Promise<Buffer> | undefined;
  const pair = await connectionPair((s) => {
    s.accept();
    received = (async () => {
      const chunks: Buffer[] = [];
      for await (const c of s) {
        chunks.push(c as Buffer);
        // A slow reader: the socket must be paused rather than everything buffered in memory.
        if (chunks.length % 50 === 0) await new Promise((r) => setImmediate(r));
      }
      return Buffer.concat(chunks);
    })();
  });
  t.after(() => pair.close());
  const stream = await pair.client.openStream({ port: '1' });
  const payload = Buffer.alloc(5 * 1024 * 1024);
  for (let i = 0; i < payload.length; i += 4) payload.writeUInt32BE(i, i);
  let paused = false;
  pair.serverSocket.on('pause', () => { paused = true; });
  await new Promise<void>((resolve, reject) => stream.end(payload, () => resolve()).on('error', reject));
  const got = await received;
  assert.equal(got?.length, payload.length);
  assert.ok(got?.equals(payload), 'the bytes arrive in order');
  assert.ok(paused, 'the server paused its socket while its reader was behind');
});

test('a stream the client was not entitled to open is a protocol error that ends the connection', async (t) => {
  const pair = await connectionPair(() => assert.fail('no stream should be handed out'));
  t.after(() => pair.close());
  const encoder = new HeaderEncoder();
  const block = encoder.encode({ port: '1' });
  const frame = Buffer.alloc(18);
  frame.writeUInt16BE(0x8003, 0);
  frame.writeUInt16BE(frameType.synStream, 2);
  frame.writeUInt32BE(10 + block.length, 4);
  frame.writeUInt32BE(2, 8); // even: a server's id
  pair.clientSocket.write(Buffer.concat([frame, block]));
  await pair.server.closed;
  assert.match(pair.server.protocolError ?? '', /stream 2, which is out of order or not its to open/);
});
