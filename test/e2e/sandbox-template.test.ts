/**
 * Fast start from a VM template: one boot makes the template, clones restore it. Each clone must get its own
 * rootfs, hostname, clock and entropy, must not write into the template, and must clean up like a cold VM.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Sandbox } from '../../src/sandbox/index.js';
import { qemuProcessesUnder, sandboxTestContext, sandpod } from './helpers.js';

const ctx = sandboxTestContext('template', (c) => c.runtime.templates.clear());

async function sh(sb: Sandbox, script: string): Promise<string> {
  let out = '';
  const p = await sb.exec({ args: ['sh', '-c', script], env: ['PATH=/bin'], cwd: '/', terminal: false, stdin: false },
    { onStdout: (d) => { out += d.toString(); }, onStderr: (d) => { out += d.toString(); } });
  assert.deepEqual(await p.exited, { code: 0, signal: null }, out);
  return out.trim();
}

test('clones of one template each get their own identity, clock and entropy, and leave the template untouched', async () => {
  const { roots, rootfs, runtime } = ctx;
  const a = await runtime.create({ rootfs, cpus: 1, memoryMiB: 256, hostname: 'clone-a', fromTemplate: true });
  const [tplDir] = await readdir(join(roots.run, 'templates'));
  assert.ok(tplDir, 'a template was saved');
  const memory = join(roots.run, 'templates', tplDir, 'memory');
  const before = await stat(memory);
  const b = await runtime.create({ rootfs, cpus: 1, memoryMiB: 256, hostname: 'clone-b', fromTemplate: true });
  try {
    assert.equal(before.size, 256 * 2 ** 20, 'the template holds the whole guest RAM');
    const [outA, outB] = [await sh(a, 'hostname; date +%s; head -c 16 /dev/urandom | od -An -tx1; echo a > /tmp/who; cat /tmp/who'),
      await sh(b, 'hostname; date +%s; head -c 16 /dev/urandom | od -An -tx1; cat /tmp/who')];
    const [hostA, clockA, randA, whoA] = outA.split('\n');
    const [hostB, clockB, randB, whoB] = outB.split('\n');
    assert.equal(hostA, 'clone-a');
    assert.equal(hostB, 'clone-b');
    const now = Date.now() / 1000;
    assert.ok(Math.abs(Number(clockA) - now) < 30 && Math.abs(Number(clockB) - now) < 30, `guest clocks ${clockA}, ${clockB} vs host ${now}`);
    assert.notEqual(randA, randB, 'clones do not share their random stream');
    assert.equal(whoA, 'a');
    assert.equal(whoB, 'a', 'both clones see the same shared rootfs');
    assert.equal((await stat(memory)).mtimeMs, before.mtimeMs, 'clones never write the template memory');
  } finally {
    await a.destroy();
    await b.destroy();
  }
  assert.deepEqual(await qemuProcessesUnder(roots.run), []);
  assert.deepEqual(await readdir(join(roots.run, 'sandboxes')), []);
});

test('the CLI starts from the template with --template and returns the exit code', async () => {
  const { roots, rootfs } = ctx;
  const r = await sandpod(['sandbox', 'run', '--template', '--memory', '256Mi', '--rootfs', rootfs, '--', 'sh', '-c', 'uname -r; exit 3'], roots.env);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stdout, /^\d+\.\d+\.\d+/);
});
