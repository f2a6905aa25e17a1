/**
 * Images built here from Debian's busybox-static import into a real containerd and run with runc.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxImageArchive } from '../../src/images/index.js';
import { resolvePaths } from '../../src/paths.js';
import { startContainerd } from './containerd.js';
import { processesWhere } from './helpers.js';

const containerdProcessesUnder = (base: string): Promise<number[]> =>
  processesWhere((cmd) => cmd.includes('containerd') && cmd.includes(base));

test('a busybox image built from Debian packages imports into containerd and runs with runc', async (t) => {
  const base = await mkdtemp(join(tmpdir(), 'sandpod-e2e-images-'));
  const containerd = await startContainerd(join(base, 'containerd'));
  t.after(async () => {
    await containerd.stop();
    // runc's per-namespace state directory sits at a fixed path outside our roots; it is empty by now.
    await rmdir('/run/containerd/runc/sandpod-test').catch(() => undefined);
    const left = await containerdProcessesUnder(base);
    await rm(base, { recursive: true, force: true });
    assert.deepEqual(left, [], 'no containerd or shim process is left');
  });
  const { archive } = await busyboxImageArchive(resolvePaths());

  const imported = await containerd.ctr(['images', 'import', archive]);
  assert.match(imported.stdout + imported.stderr, /sandpod\.local\/busybox:latest/);
  const list = await containerd.ctr(['images', 'ls', '-q']);
  assert.match(list.stdout, /^sandpod\.local\/busybox:latest$/m);

  const run = await containerd.ctr(['run', '--rm', 'sandpod.local/busybox:latest', 'images-t1', 'sh', '-c', 'echo hello-from-image; uname -r']);
  const [hello, kernel] = run.stdout.trim().split('\n');
  assert.equal(hello, 'hello-from-image');
  assert.equal(kernel, (await readFile('/proc/sys/kernel/osrelease', 'utf8')).trim(), 'runc shares the host kernel');
  assert.equal((await containerd.ctr(['containers', 'ls', '-q'])).stdout.trim(), '', 'ctr run --rm removed the container');
});
