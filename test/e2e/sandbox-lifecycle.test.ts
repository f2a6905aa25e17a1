/**
 * The runtime API through 10 create/exec/destroy cycles, a cold boot every fourth and template clones between
 * (a cold boot takes four times a clone under TCG; two of each already show what one cycle leaves): nothing may
 * accumulate (QEMU processes, sockets, run directories, temporary directories, open file descriptors of this process).
 * (The churn test takes 200 pods of each runtime through the whole cluster.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { qemuProcessesUnder, sandboxTestContext } from './helpers.js';

const CYCLES = 10;
const ctx = sandboxTestContext('cycles');
let tmp: string;

const openFds = async (): Promise<number> => (await readdir('/proc/self/fd')).length;
const tmpEntries = async (): Promise<string[]> => readdir(tmp);

test(`${CYCLES} create/exec/destroy cycles leave no process, socket, directory or file descriptor behind`, async () => {
  const { roots, rootfs, runtime } = ctx;
  // This process's temporary files go to a directory of its own, so other programs' files do not count.
  tmp = join(roots.base, 'tmp');
  await mkdir(tmp);
  process.env['TMPDIR'] = tmp;
  // Warm up: image, accelerator verdict and template are made once, and the first exec loads lazy modules.
  for (const fromTemplate of [false, true]) {
    const warm = await runtime.create({ rootfs, cpus: 1, memoryMiB: 256, fromTemplate });
    await (await warm.exec({ args: ['true'], env: [], cwd: '/', terminal: false, stdin: false }, { onStdout: () => undefined, onStderr: () => undefined })).exited;
    await warm.destroy();
  }
  const fdsBefore = await openFds();
  const tmpBefore = await tmpEntries();

  for (let i = 0; i < CYCLES; i++) {
    const sb = await runtime.create({ rootfs, cpus: 1, memoryMiB: 256, fromTemplate: i % 4 !== 0 });
    let out = '';
    const p = await sb.exec({ args: ['sh', '-c', `echo cycle-${i}`], env: ['PATH=/bin'], cwd: '/', terminal: false, stdin: false },
      { onStdout: (d) => { out += d.toString(); }, onStderr: () => undefined });
    const exit = await p.exited;
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.equal(out, `cycle-${i}\n`);
    await sb.destroy();
    assert.equal(sb.state, 'stopped');
  }

  assert.deepEqual(await qemuProcessesUnder(roots.run), [], 'no QEMU process is left');
  assert.deepEqual(await readdir(join(roots.run, 'sandboxes')), [], 'no run directory or socket is left');
  assert.equal((await readdir(join(roots.run, 'templates'))).length, 1, 'one template, made once');
  assert.equal(tmpdir(), tmp);
  assert.deepEqual(await tmpEntries(), tmpBefore, 'no temporary directory is left');
  assert.equal(await openFds(), fdsBefore, 'no file descriptor is left open');
});
