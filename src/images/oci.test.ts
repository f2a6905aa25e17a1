import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { refName, writeOciArchive } from './oci.js';

test('an OCI archive holds a layout whose blobs match their digests and reference each other', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'oci-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const rootfs = join(dir, 'rootfs');
  await mkdir(join(rootfs, 'etc'), { recursive: true });
  await writeFile(join(rootfs, 'etc/hello'), 'hi\n');
  const archive = join(dir, 'image.tar');
  const desc = await writeOciArchive(rootfs, { name: 'sandpod.local/test:v1', cmd: ['cat', '/etc/hello'] }, archive);
  const out = join(dir, 'out');
  await mkdir(out);
  execFileSync('tar', ['-C', out, '-xf', archive]);

  const blob = (digest: string) => readFile(join(out, 'blobs/sha256', digest.replace('sha256:', '')));
  const check = async (d: { digest: string; size: number }) => {
    const b = await blob(d.digest);
    assert.equal(`sha256:${createHash('sha256').update(b).digest('hex')}`, d.digest);
    assert.equal(b.length, d.size);
    return b;
  };
  const index = JSON.parse(await readFile(join(out, 'index.json'), 'utf8'));
  assert.equal(index.manifests[0].annotations['io.containerd.image.name'], 'sandpod.local/test:v1');
  assert.equal(index.manifests[0].annotations['org.opencontainers.image.ref.name'], 'v1');
  assert.equal(index.manifests[0].digest, desc.digest);
  const manifest = JSON.parse((await check(index.manifests[0])).toString());
  const config = JSON.parse((await check(manifest.config)).toString());
  const layer = gunzipSync(await check(manifest.layers[0]));
  assert.deepEqual(config.config.Cmd, ['cat', '/etc/hello']);
  assert.equal(config.rootfs.diff_ids[0], `sha256:${createHash('sha256').update(layer).digest('hex')}`);
  assert.match(execFileSync('tar', ['-tf', '-'], { input: layer }).toString(), /\.\/etc\/hello/);

  // Reproducible: the same rootfs gives the same manifest digest.
  assert.equal((await writeOciArchive(rootfs, { name: 'sandpod.local/test:v1', cmd: ['cat', '/etc/hello'] }, join(dir, 'again.tar'))).digest, desc.digest);
});

test('ref names are the tag of the reference', () => {
  assert.equal(refName('sandpod.local/busybox:latest'), 'latest');
  assert.equal(refName('localhost:5000/stress'), 'latest');
  assert.equal(refName('localhost:5000/stress:1.2'), '1.2');
});
