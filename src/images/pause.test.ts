import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitUntil } from '../wait.js';
import { resolvePaths } from '../paths.js';
import { runTool } from '../run-tool.js';
import { pauseImageArchive, PAUSE_IMAGE } from './pause.js';

/** Unpacks the single layer of an OCI archive into `rootfs` and returns the image config. */
async function unpack(archive: string, dir: string): Promise<{ config: { Cmd: string[] } }> {
  const layout = join(dir, 'layout');
  const rootfs = join(dir, 'rootfs');
  await mkdir(layout);
  await mkdir(rootfs);
  await runTool('test', 'tar', ['-C', layout, '-xf', archive]);
  const blob = async (digest: string) => readFile(join(layout, 'blobs/sha256', digest.replace('sha256:', '')), 'utf8');
  const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8'));
  const manifest = JSON.parse(await blob(index.manifests[0].digest));
  await runTool('test', 'tar', ['-C', rootfs, '-xzf', join(layout, 'blobs/sha256', manifest.layers[0].digest.replace('sha256:', ''))]);
  return JSON.parse(await blob(manifest.config.digest));
}

const bit = (signal: number): bigint => 1n << BigInt(signal - 1);
const TERM = bit(15);
const HUP_USR1 = bit(1) | bit(10);

/** Whether a 64-bit ELF file asks for a program interpreter (PT_INTERP), as dynamically linked programs do. */
function hasInterpreter(elf: Buffer): boolean {
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const size = elf.readUInt16LE(0x36);
  return Array.from({ length: elf.readUInt16LE(0x38) }, (_, i) => elf.readUInt32LE(phoff + i * size)).includes(3);
}

/** Waits until a signal mask line of /proc/<pid>/status (SigCgt, ShdPnd, …) satisfies `ok`. */
const signalMask = (pid: number | undefined, line: string, ok: (mask: bigint) => boolean): Promise<bigint> =>
  waitUntil(async () => {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const mask = BigInt(`0x${new RegExp(`^${line}:\\s*([0-9a-f]+)$`, 'm').exec(status)?.[1] ?? '0'}`);
    return ok(mask) ? mask : undefined;
  }, { timeoutMs: 5_000, onTimeout: () => new Error(`pause pid ${pid}: ${line} never matched`) });

test('the pause image holds a static /pause that ignores other signals and exits 0 on TERM or INT', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pause-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const paths = resolvePaths({ cacheRoot: join(dir, 'cache') });
  const image = await pauseImageArchive(paths);
  assert.equal(image.name, PAUSE_IMAGE);
  const built = (await stat(image.archive)).mtimeMs;
  assert.equal((await pauseImageArchive(paths)).archive, image.archive, 'the second call finds the cached archive');
  assert.equal((await stat(image.archive)).mtimeMs, built, 'and does not rebuild it');

  const config = await unpack(image.archive, dir);
  assert.deepEqual(config.config.Cmd, ['/pause']);
  const pause = join(dir, 'rootfs', 'pause');
  assert.equal(hasInterpreter(await readFile(pause)), false, 'static: the image has no dynamic loader to run it');
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    const child = spawn(pause, [], { stdio: 'ignore' });
    const exited = new Promise<[number | null, string | null]>((resolve) => child.once('exit', (code, sig) => resolve([code, sig])));
    await signalMask(child.pid, 'SigCgt', (m) => (m & TERM) !== 0n); // handlers installed: a TERM before that would kill it
    child.kill('SIGHUP');
    child.kill('SIGUSR1');
    await signalMask(child.pid, 'ShdPnd', (m) => m === HUP_USR1);
    assert.equal(child.exitCode, null, 'HUP and USR1 stay pending: they are blocked');
    child.kill(signal);
    assert.deepEqual(await exited, [0, null], `${signal} ends it with status 0`);
  }
});
