import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeFrame, FrameDecoder, FRAME_HEADER } from './framing.js';
import { guestMessageSchema, hostMessageSchema } from './messages.js';

test('frames round-trip, split at every byte boundary', () => {
  const msgs = [{ type: 'hello', id: 1, nonce: 'n' }, { a: 'ü'.repeat(100) }, [1, 2, 3]];
  const wire = Buffer.concat(msgs.map(encodeFrame));
  for (let cut = 0; cut <= wire.length; cut++) {
    const d = new FrameDecoder();
    const got = [...d.push(wire.subarray(0, cut)), ...d.push(wire.subarray(cut))];
    assert.deepEqual(got, msgs);
    assert.equal(d.stats.skippedBytes, 0);
  }
});

test('decoder resyncs after garbage, truncated and corrupted frames', () => {
  const good = encodeFrame({ n: 1 });
  const corrupt = encodeFrame({ n: 2 });
  corrupt.writeUInt8(corrupt.readUInt8(FRAME_HEADER + 2) ^ 0xff, FRAME_HEADER + 2);
  const truncated = encodeFrame({ n: 3 }).subarray(0, 9);
  const d = new FrameDecoder();
  const got = d.push(Buffer.concat([Buffer.from('line noise SPD'), truncated, corrupt, good, Buffer.from('SP')]));
  assert.deepEqual(got, [{ n: 1 }]);
  assert.ok(d.stats.skippedBytes > 0);
  assert.deepEqual(d.push(Buffer.concat([Buffer.from('D1'), encodeFrame({ n: 4 })])), [{ n: 4 }]);
});

test('a frame with an absurd length is skipped, not waited for', () => {
  const bogus = Buffer.alloc(FRAME_HEADER);
  Buffer.from('SPD1').copy(bogus);
  bogus.writeUInt32BE(0xffffffff, 4);
  const d = new FrameDecoder();
  assert.deepEqual(d.push(Buffer.concat([bogus, encodeFrame({ ok: true })])), [{ ok: true }]);
});

test('schemas accept well-formed messages and reject unknown fields', () => {
  assert.ok(hostMessageSchema.safeParse({ type: 'signal', id: 3, proc: 'p', signal: 'SIGTERM' }).success);
  assert.ok(!hostMessageSchema.safeParse({ type: 'signal', id: 3, proc: 'p', signal: 'TERM' }).success);
  assert.ok(!hostMessageSchema.safeParse({ type: 'shutdown', id: 1, extra: 1 }).success);
  assert.ok(guestMessageSchema.safeParse({ type: 'exit', proc: 'p', code: 7, signal: null }).success);
  assert.ok(guestMessageSchema.safeParse({ type: 'failure', id: 2, error: { kind: 'NotFound', message: 'x' } }).success);
  assert.ok(!guestMessageSchema.safeParse({ type: 'failure', id: 2, error: { kind: 'Oops', message: 'x' } }).success);
});
