import { spawn } from 'node:child_process';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { GuestMessage } from '../../protocol/index.js';
import { GuestAgent, signalProcess } from './agent.js';

function agent() {
  const sent: GuestMessage[] = [];
  return { agent: new GuestAgent(async (m) => { sent.push(m); }), sent };
}

test('hello answers with the nonce and the guest facts', async () => {
  const { agent: a, sent } = agent();
  await a.handle({ type: 'hello', id: 1, nonce: 'n1' });
  const reply = sent[0] as Extract<GuestMessage, { type: 'reply' }>;
  assert.equal(reply.type, 'reply');
  const result = reply.result as { nonce: string; info: { kernel: string; bootMs: number; protocol: number } };
  assert.equal(result.nonce, 'n1');
  assert.ok(result.info.kernel.length > 0 && result.info.bootMs > 0 && result.info.protocol === 1);
});

test('requests in the wrong state or for unknown processes fail with their kind, malformed ones as Invalid', async () => {
  const { agent: a, sent } = agent();
  await a.handle({ type: 'exec', id: 2, proc: 'p', spec: { args: ['true'], env: [], cwd: '/', terminal: false, stdin: false } });
  await a.handle({ type: 'signal', id: 3, proc: 'nope', signal: 'SIGTERM' });
  await a.handle({ type: 'exec', id: 4, proc: 'p', spec: { args: [] } });
  await a.handle({ type: 'stdin', proc: 'nope', data: '' });
  await a.handle('not even an object');
  assert.deepEqual(sent.map((m) => (m.type === 'failure' ? [m.id, m.error.kind] : m.type)), [
    [2, 'FailedPrecondition'], [3, 'NotFound'], [4, 'Invalid'],
  ]);
});

test('a signal to a process that has already exited is not an error; a signal the system refuses is', async () => {
  const child = spawn('true');
  await new Promise((r) => child.once('exit', r));
  const gone = child.pid as number;
  assert.doesNotThrow(() => signalProcess(gone, 'SIGKILL', 'process p'));
  assert.throws(() => signalProcess(process.pid, 'SIGNOPE', 'process p'), (e: Error & { kind?: string }) => e.kind === 'Invalid' && /SIGNOPE to process p/.test(e.message));
});
