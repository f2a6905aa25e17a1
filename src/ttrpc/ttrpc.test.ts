import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSandpodError, SandpodError } from '../errors.js';
import { createLogger, nullSink } from '../log.js';
import { Code, codeForKind, TtrpcClient, TtrpcError, TtrpcServer, loadProto, decodeMessage, encodeMessage } from './index.js';
import { decodeResponse, encodeRequest } from './envelope.js';
import { encodeTtrpcFrame, MAX_PAYLOAD, MessageType, TtrpcFrameReader, type Frame } from './framing.js';

const kv = loadProto('./ttrpc.proto', import.meta.url).lookupType('ttrpc.KeyValue');
type KV = { key: string; value: string };

test('frames decode whole when split at every byte', () => {
  const wire = Buffer.concat([encodeTtrpcFrame(1, MessageType.Request, Buffer.from('abc')), encodeTtrpcFrame(3, MessageType.Response, Buffer.alloc(0))]);
  for (let cut = 0; cut <= wire.length; cut++) {
    const got: Frame[] = [];
    const r = new TtrpcFrameReader((f) => got.push(f), () => assert.fail('not oversized'));
    r.push(wire.subarray(0, cut));
    r.push(wire.subarray(cut));
    assert.deepEqual(got.map((f) => [f.streamId, f.type, f.payload.toString()]), [[1, 1, 'abc'], [3, 2, '']]);
  }
});

async function withServer(t: import('node:test').TestContext) {
  const dir = await mkdtemp(join(tmpdir(), 'ttrpc-'));
  const path = join(dir, 's.sock');
  const server = new TtrpcServer(createLogger('test', nullSink));
  server.register('test.v1.Echo', {
    Echo: async (payload, ctx) => {
      const m = decodeMessage<KV>(kv, payload);
      if (m.key === 'slow') await new Promise((r) => setTimeout(r, 50));
      return encodeMessage(kv, { key: m.key, value: `${m.value}|ns=${ctx.metadata.get('containerd-namespace-ttrpc') ?? ''}` });
    },
    Missing: async () => { throw new SandpodError('NotFound', 'task t1 not found'); },
  });
  await server.listen(path);
  t.after(async () => { await server.close(); await rm(dir, { recursive: true, force: true }); });
  return path;
}

test('calls round-trip with metadata, answer out of order, and map errors to gRPC codes', async (t) => {
  const path = await withServer(t);
  const client = await TtrpcClient.connect(path);
  t.after(() => client.close());
  const call = async (key: string, value: string): Promise<KV> =>
    decodeMessage<KV>(kv, await client.call('test.v1.Echo', 'Echo', encodeMessage(kv, { key, value }), { 'containerd-namespace-ttrpc': 'k8s.io' }));
  const [slow, fast] = await Promise.all([call('slow', 'a'), call('fast', 'b')]);
  assert.deepEqual(slow, { key: 'slow', value: 'a|ns=k8s.io' });
  assert.deepEqual(fast, { key: 'fast', value: 'b|ns=k8s.io' });
  await assert.rejects(client.call('test.v1.Echo', 'Pause', new Uint8Array()), (e: TtrpcError) => e.code === Code.Unimplemented && /Pause is not implemented/.test(e.message));
  await assert.rejects(client.call('test.v1.Echo', 'Missing', new Uint8Array()), (e: TtrpcError) => e.code === Code.NotFound && /task t1 not found/.test(e.message));
});

test('even stream ids and oversized messages are answered with errors, and the connection stays usable', async (t) => {
  const path = await withServer(t);
  const sock = connect(path);
  t.after(() => sock.destroy());
  await new Promise((r) => sock.once('connect', r));
  const responses: [number, number][] = [];
  const reader = new TtrpcFrameReader((f) => responses.push([f.streamId, decodeResponse(f.payload).status?.code ?? 0]), () => undefined);
  sock.on('data', (d: Buffer) => reader.push(d));
  sock.write(encodeTtrpcFrame(2, MessageType.Request, encodeRequest({ service: 'test.v1.Echo', method: 'Echo' })));
  const big = Buffer.alloc(10);
  big.writeUInt32BE(MAX_PAYLOAD + 1, 0);
  big.writeUInt32BE(5, 4);
  big.writeUInt8(MessageType.Request, 8);
  sock.write(Buffer.concat([big, Buffer.alloc(MAX_PAYLOAD + 1)]));
  sock.write(encodeTtrpcFrame(7, MessageType.Request, encodeRequest({ service: 'test.v1.Echo', method: 'Echo', payload: Buffer.from(encodeMessage(kv, { key: 'k', value: 'v' })) })));
  await new Promise<void>((resolve) => { const i = setInterval(() => { if (responses.length >= 3) { clearInterval(i); resolve(); } }, 10); });
  assert.deepEqual(responses.sort((a, b) => a[0] - b[0]), [[2, Code.InvalidArgument], [5, Code.ResourceExhausted], [7, Code.OK]]);
});

test('a ttrpc status is a SandpodError of the kind its code stands for, and a kind answers with its code', () => {
  for (const [code, kind] of [[Code.NotFound, 'NotFound'], [Code.Aborted, 'Conflict'], [Code.Unimplemented, 'NotImplemented'], [Code.Unauthenticated, 'Unauthorized']] as const) {
    const err = new TtrpcError(code, 'm');
    assert.ok(isSandpodError(err, kind), `${code} → ${kind}`);
    assert.equal(codeForKind(kind), code);
  }
});
