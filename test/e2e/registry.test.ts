/**
 * The local registry end to end: Debian's docker-registry started on loopback, Sandpod's images pushed into
 * it with Sandpod's own push, its storage kept across a restart, and a CRI containerd whose hosts send
 * docker.io and sandpod.local pulls there pulling `busybox`, `stress` and the pause image and running runc
 * pods from them, with nothing fetched from anywhere else. The CLI's `image build` and `image push` too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRegistry, stopRegistry, type RunningRegistry } from '../../src/cluster/index.js';
import { isSandpodError } from '../../src/errors.js';
import { AKS_SAMPLE_IMAGE, busyboxImageArchive, pushLabImages, pushOciArchive, PAUSE_IMAGE, STRESS_IMAGE } from '../../src/images/index.js';
import { resolvePaths } from '../../src/paths.js';
import { runTestPod, startCriContainerd, startTestContainer, stopCriContainerd, waitContainerState } from './cri-helpers.js';
import { processesWhere } from './helpers.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

const manifest = (registry: string, path: string): Promise<Response> =>
  fetch(`${registry}/v2/${path}`, { headers: { accept: OCI_MANIFEST } });

interface RegistryFrame {
  base: string;
  registry: RunningRegistry;
  /** Runs `fn` after the test, before the registry stops (last registered first), e.g. to remove pods. */
  defer(fn: () => Promise<void>): void;
}

/** A temporary directory and a registry in it; after the test, the registry is stopped and nothing of it may run. */
async function registryFrame(t: { after(fn: () => Promise<void>): void }, name: string): Promise<RegistryFrame> {
  const base = await mkdtemp(join(tmpdir(), `sandpod-e2e-${name}-`));
  const registry = await startRegistry({ dir: join(base, 'registry'), logFile: join(base, 'registry.log') });
  const deferred: (() => Promise<void>)[] = [];
  t.after(async () => {
    try {
      for (const fn of deferred.reverse()) await fn();
    } finally {
      await stopRegistry(registry);
      const left = await processesWhere((cmd) => cmd.includes(join(base, 'registry')));
      for (const pid of left) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
      await rm(base, { recursive: true, force: true });
      assert.deepEqual(left, [], 'no registry process is left');
    }
  });
  return { base, registry, defer: (fn) => { deferred.push(fn); } };
}

test('images pushed to the local registry are served under their repository paths and survive a restart', async (t) => {
  const { base, registry } = await registryFrame(t, 'registry');
  const paths = resolvePaths();
  const pushed = await pushLabImages(paths, registry.url);
  assert.deepEqual(pushed.map((p) => p.reference), [
    'sandpod.local/busybox:latest', 'docker.io/library/busybox:latest', AKS_SAMPLE_IMAGE,
    'sandpod.local/stress:latest', 'docker.io/library/stress:latest', PAUSE_IMAGE,
  ]);
  const busybox = pushed[1];
  assert.ok(busybox);
  assert.equal(busybox.manifestUrl, `${registry.url}/v2/library/busybox/manifests/latest`);

  const res = await manifest(registry.url, 'library/busybox/manifests/latest');
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('docker-content-digest'), busybox.digest);
  const body = await res.json() as { layers: unknown[]; config: { digest: string } };
  assert.equal(body.layers.length, 1);
  assert.equal((await fetch(`${registry.url}/v2/library/busybox/blobs/${body.config.digest}`, { method: 'HEAD' })).status, 200);
  assert.equal((await manifest(registry.url, 'pause/manifests/3.9')).status, 200, 'sandpod.local/pause:3.9 is stored as pause');
  assert.equal((await manifest(registry.url, 'busybox/manifests/latest')).status, 200, 'sandpod.local/busybox is stored as busybox');
  assert.equal((await manifest(registry.url, 'library/absent/manifests/latest')).status, 404);

  const again = await pushOciArchive((await busyboxImageArchive(paths)).archive, registry.url, 'busybox');
  assert.deepEqual(again.uploaded, [], 'a second push uploads nothing');
  assert.equal(again.skipped.length, 2, 'it finds the config and the layer');
  assert.equal(again.digest, busybox.digest);

  await stopRegistry(registry);
  const restarted = await startRegistry({ dir: join(base, 'registry'), logFile: join(base, 'registry.log') });
  try {
    assert.equal(restarted.url, registry.url, 'the port of the first start is kept');
    const kept = await manifest(restarted.url, 'library/stress/manifests/latest');
    assert.equal(kept.status, 200, 'pushed images survive a restart');
    assert.equal(kept.headers.get('docker-content-digest'), pushed[3]?.digest);
  } finally {
    await stopRegistry(restarted);
  }
});

test('a push fails clearly when the registry is not there or the archive is not an image', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sandpod-e2e-push-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const { archive } = await busyboxImageArchive(resolvePaths());
  await assert.rejects(pushOciArchive(archive, 'http://127.0.0.1:9', 'busybox'),
    (err) => isSandpodError(err, 'Unavailable') && /cannot reach registry http:\/\/127\.0\.0\.1:9/.test(err.message) && err.object === 'image/docker.io/library/busybox:latest');
  const notImage = join(dir, 'not-an-image.tar');
  await writeFile(join(dir, 'hello'), 'hi');
  await new Promise<void>((resolve, reject) => spawn('tar', ['-C', dir, '-cf', notImage, 'hello']).once('close', (c) => (c === 0 ? resolve() : reject(new Error(`tar ${c}`)))));
  await assert.rejects(pushOciArchive(notImage, 'http://127.0.0.1:9'), (err) => isSandpodError(err, 'Invalid') && /index\.json is missing/.test(err.message));
  await assert.rejects(pushOciArchive(archive, 'http://127.0.0.1:9', 'Bad Name'), (err) => isSandpodError(err, 'Invalid'));
});

test('CRI pulls busybox, stress and the pause image from the local registry and runs runc pods from them', async (t) => {
  const { base, registry, defer } = await registryFrame(t, 'registry-cri');
  await pushLabImages(resolvePaths(), registry.url);
  const ctx = await startCriContainerd(join(base, 'cri'), { registry: registry.url });
  defer(async () => assert.deepEqual(await stopCriContainerd(ctx), [], 'CRI pods left something behind'));
  const { cri } = ctx;
  assert.equal((await cri.imageStatus({ image: { image: 'busybox' } })).image, null, 'nothing is imported: busybox must come from the registry');

  const pulled = await cri.pullImage({ image: { image: 'busybox' } });
  assert.match(pulled.image_ref, /^sha256:[0-9a-f]{64}$/);
  const status = await cri.imageStatus({ image: { image: 'busybox' } });
  assert.deepEqual(status.image?.repo_tags, ['docker.io/library/busybox:latest']);
  const digest = (await manifest(registry.url, 'library/busybox/manifests/latest')).headers.get('docker-content-digest');
  assert.deepEqual(status.image?.repo_digests, [`docker.io/library/busybox@${digest}`]);

  // Only the local registry is asked: an image it lacks fails there instead of falling back to Docker Hub.
  await assert.rejects(cri.pullImage({ image: { image: 'absent' } }),
    (err: Error) => /NOT_FOUND: .*docker\.io\/library\/absent:latest: not found/.test(err.message) && !/registry-1\.docker\.io|no such host/.test(err.message));
  assert.match(await readFile(registry.logFile, 'utf8'), /\/v2\/library\/absent\/manifests\/latest/, 'the local registry was asked for it');

  const pod = await runTestPod(ctx, 'pulled', 'runc'); // CRI pulls the sandbox image, sandpod.local/pause:3.9
  assert.equal(pod.status.state, 'SANDBOX_READY');
  assert.ok((await cri.imageStatus({ image: { image: PAUSE_IMAGE } })).image, 'the pause image was pulled from the registry');

  const shell = await startTestContainer(ctx, pod, { name: 'shell', image: 'busybox', command: ['sleep', '3600'] });
  const hello = await cri.execSync({ container_id: shell, cmd: ['sh', '-c', 'echo hello from $(cat /etc/hostname)'], timeout: 10 });
  assert.equal(hello.stdout.toString(), 'hello from pulled\n');

  await cri.pullImage({ image: { image: 'stress' } });
  assert.ok((await cri.imageStatus({ image: { image: 'docker.io/library/stress:latest' } })).image);
  const stress = await startTestContainer(ctx, pod, {
    name: 'stress', image: 'stress', command: ['sh', '-c', 'stress-ng --version && stress-ng --cpu 1 --timeout 1 --quiet && echo stressed'],
  });
  const exited = await waitContainerState(cri, stress, ['CONTAINER_EXITED']);
  const log = await readFile(join(pod.config.log_directory ?? '', 'stress.log'), 'utf8');
  assert.equal(exited.exit_code, 0, `stress-ng ran (log: ${log})`);
  assert.match(log, /stress-ng, version 0\.\d+/);
  assert.match(log, / stdout F stressed$/m);
  assert.equal(exited.image?.image, 'docker.io/library/stress:latest');

  // sandpod.local names resolve through the same registry.
  await cri.pullImage({ image: { image: STRESS_IMAGE } });
  assert.ok((await cri.imageStatus({ image: { image: STRESS_IMAGE } })).image);
});

test('sandpod image build writes an archive and image push puts it in a registry, or says none is running', async (t) => {
  const { base, registry } = await registryFrame(t, 'registry-cli');
  const main = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
  const env = { ...process.env, SANDPOD_STATE_DIR: join(base, 'state'), SANDPOD_RUN_DIR: join(base, 'run') };
  const cli = (args: string[]) => new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [main, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });

  const out = join(base, 'busybox.tar');
  const built = await cli(['image', 'build', 'busybox', '--output', out]);
  assert.equal(built.code, 0, built.stderr);
  assert.equal(built.stdout, `${out}\n`);

  const pushed = await cli(['image', 'push', out, '--registry', registry.url, '--name', 'sandpod.local/tools/box:v1']);
  assert.equal(pushed.code, 0, pushed.stderr);
  assert.match(pushed.stdout, /^sandpod\.local\/tools\/box:v1 sha256:[0-9a-f]{64} http:\/\/127\.0\.0\.1:\d+\/v2\/tools\/box\/manifests\/v1\n$/);
  assert.equal((await manifest(registry.url, 'tools/box/manifests/v1')).status, 200);

  const none = await cli(['image', 'push', out]);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /^sandpod: cluster default \(resource group local\): no registry is running: .* does not exist; .*sandpod up.*--registry URL/);
  // Pushing into a running cluster's registry without --registry: test/e2e/clusters.test.ts.

  const usage = await cli(['image', 'build', 'nginx']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /unknown image "nginx"; Sandpod builds busybox\|stress\|pause/);
});
