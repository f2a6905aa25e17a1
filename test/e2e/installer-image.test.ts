/**
 * The installer image (`sandpod image build installer`) and its entrypoint in a runc container, the way the
 * DaemonSet of `sandpod manifests` runs it: the node's root mounted at /host, the entrypoint copying the
 * command and payload onto the node and running `sandpod node install` there. The node's namespaces are
 * entered with `chroot /host` instead of nsenter (this container does not share the host's PID namespace);
 * the install goes to a temporary prefix and an operator's configuration under a temporary directory.
 * The local cluster does not serve DaemonSets yet, so the DaemonSet itself is checked as an object.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { checkoutPayload, installerImageArchive, installerObjects, INSTALLER_IMAGE, payloadVersion, runtimeClasses, VM_ISOLATION_LABEL } from '../../src/install/index.js';
import { resolvePaths } from '../../src/paths.js';
import { shimTestContainerd } from './containerd.js';

test('the installer image installs and uninstalls from a runc container, and the manifests name it', async (t) => {
  const paths = resolvePaths();
  const image = await installerImageArchive(paths, () => checkoutPayload(paths));
  const version = await payloadVersion(await checkoutPayload(paths));
  assert.equal(image.name, `${INSTALLER_IMAGE}:${version}`);

  const containerd = await shimTestContainerd(t, 'installer');
  const dir = await mkdtemp(join(tmpdir(), 'sandpod-e2e-installer-node-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const config = join(dir, 'config.toml');
  const original = 'version = 2\n\n[plugins."io.containerd.grpc.v1.cri"]\n  sandbox_image = "example.local/pause:1"\n';
  await writeFile(config, original);
  await containerd.importImage(image);

  const run = (name: string, action: string, args: string[]): Promise<{ stdout: string }> => containerd.ctr([
    'run', '--rm', '--privileged', '--mount', 'type=bind,src=/,dst=/host,options=rbind:rw',
    '--env', 'SANDPOD_ENTER=chroot /host', '--env', `SANDPOD_PREFIX=${join(dir, 'opt')}`, '--env', 'SANDPOD_ONESHOT=1', '--env', `SANDPOD_ACTION=${action}`,
    '--env', 'NODE_NAME=test-node', image.name, name, '/sandpod/entrypoint', ...args,
  ]);
  const installed = await run('install', 'install', ['--containerd-config', config, '--accel', 'tcg', '--no-restart']);
  assert.match(installed.stdout, new RegExp(`sandpod-installer ${version} on test-node: install`));
  assert.match(installed.stdout, /installed: RuntimeClass handler "sandpod-vm" runs VM pods/);
  assert.match(await readFile(config, 'utf8'), /^imports = \[".*\/sandpod\/sandpod-vm\.toml"\]/m);
  assert.ok((await readdir(join(dir, 'opt'))).includes(version), 'the payload of the image is installed under its version');
  assert.match(await readFile(join(dir, 'opt', version, 'bin', 'containerd-shim-sandpod-v2'), 'utf8'), /SANDPOD_ACCEL=tcg/);

  const removed = await run('uninstall', 'uninstall', []);
  assert.match(removed.stdout, /took imports = /);
  assert.equal(await readFile(config, 'utf8'), original, 'the configuration is the operator\'s again');
  assert.deepEqual(await readdir(join(dir, 'opt')), ['backups'], 'the payload and the staged installer are gone, the backups stay');

  const objects = [...runtimeClasses('sandpod-vm'), ...installerObjects({ handler: 'sandpod-vm', image: image.name, installArgs: ['--accel', 'auto'] })];
  const docs = parseAllDocuments(objects.map((o) => JSON.stringify(o)).join('\n---\n')).map((d) => d.toJS() as Record<string, unknown>);
  const ds = docs.find((d) => d['kind'] === 'DaemonSet') as { spec: { template: { spec: Record<string, unknown> & { containers: { image: string; args: string[] }[] } } } };
  assert.equal(ds.spec.template.spec.containers[0]?.image, image.name);
  assert.deepEqual(ds.spec.template.spec.containers[0]?.args, ['--handler', 'sandpod-vm', '--accel', 'auto']);
  assert.deepEqual(ds.spec.template.spec['nodeSelector'], { [VM_ISOLATION_LABEL]: 'true' });
  assert.equal(ds.spec.template.spec['hostPID'], true);
});
