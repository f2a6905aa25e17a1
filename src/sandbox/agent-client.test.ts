import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Duplex, PassThrough } from 'node:stream';
import { encodeFrame, FrameDecoder, type GuestMessage } from '../protocol/index.js';
import { AgentClient } from './agent-client.js';

/** Two pipes joined as the host's end of a channel; the test plays the agent on the other end. */
function channel() {
  const toAgent = new PassThrough();
  const toHost = new PassThrough();
  const hostEnd = Duplex.from({ readable: toHost, writable: toAgent });
  const decoder = new FrameDecoder();
  const received: Record<string, unknown>[] = [];
  toAgent.on('data', (d: Buffer) => { for (const m of decoder.push(d)) received.push(m as Record<string, unknown>); });
  const reply = (m: GuestMessage): void => { toHost.write(encodeFrame(m)); };
  return { hostEnd, received, reply, garbage: (b: Buffer) => toHost.write(b) };
}

const info = { protocol: 1, kernel: '6.1.0-test', bootMs: 1234, bootId: 'b' };
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

test('hello ignores stale answers and garbage, and resolves on its own nonce', async () => {
  const c = channel();
  const client = new AgentClient(c.hostEnd, 'sandbox/t');
  const ready = client.hello();
  await tick();
  const hello = c.received[0] as { id: number; nonce: string };
  c.garbage(Buffer.from('stale bytes from an old connection'));
  c.reply({ type: 'reply', id: hello.id, result: { nonce: 'old', info } });
  // The agent (re)starts and announces itself: the client says hello again.
  c.reply({ type: 'ready', info });
  await tick();
  const again = c.received[1] as { id: number; nonce: string };
  assert.equal(again.nonce, hello.nonce);
  c.reply({ type: 'reply', id: again.id, result: { nonce: hello.nonce, info } });
  assert.deepEqual(await ready, info);
});

test('process output is routed by process, failures carry their kind, and a lost channel ends processes with an error', async () => {
  const c = channel();
  const client = new AgentClient(c.hostEnd, 'sandbox/t');
  let out = '';
  const started = client.startProcess({ args: ['cat'], env: [], cwd: '/', terminal: false, stdin: true },
    { onStdout: (d) => { out += d.toString(); }, onStderr: () => undefined }, 'p1');
  await tick();
  const exec = c.received[0] as { id: number; proc: string };
  c.reply({ type: 'output', proc: 'p1', stream: 'stdout', data: Buffer.from('early ').toString('base64') });
  c.reply({ type: 'reply', id: exec.id, result: { pid: 42 } });
  const p = await started;
  assert.equal(p.pid, 42);
  p.write(Buffer.from('hi'));
  p.closeStdin();
  await tick();
  assert.deepEqual(c.received.slice(1), [{ type: 'stdin', proc: 'p1', data: Buffer.from('hi').toString('base64') }, { type: 'close-stdin', proc: 'p1' }]);
  c.reply({ type: 'output', proc: 'p2', stream: 'stdout', data: Buffer.from('not mine').toString('base64') });
  c.reply({ type: 'output', proc: 'p1', stream: 'stdout', data: Buffer.from('late').toString('base64') });

  const failing = client.request({ type: 'signal', proc: 'gone', signal: 'SIGTERM' });
  await tick();
  c.reply({ type: 'failure', id: (c.received[3] as { id: number }).id, error: { kind: 'NotFound', message: 'process gone is not running' } });
  await assert.rejects(failing, (e: Error & { kind?: string }) => e.kind === 'NotFound' && /not running/.test(e.message));

  client.shutdownWith(new Error('the VM died'));
  const exit = await p.exited;
  assert.equal(out, 'early late');
  assert.equal(exit.code, null);
  assert.match(exit.error ?? '', /the VM died/);
  await assert.rejects(client.request({ type: 'shutdown' }), /the VM died/);
});
