/**
 * `sandpod node install` on a containerd configured by hand, as a node operator would (its own config file,
 * root, state and socket under a temporary directory; never the machine's): the install adds the
 * sandpod-vm handler through a drop-in, containerd restarted on it runs a VM pod through CRI with the
 * installed shim and guest image, a second install changes nothing, and uninstall leaves the operator's
 * configuration byte for byte as it was.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PAUSE_IMAGE } from '../../src/images/index.js';
import { CNI_BIN_DIR } from '../../src/cluster/index.js';
import { removeTestPod, runTestPod, startCriContainerd, startTestContainer, stopCriContainerd, type CriTestContext } from './cri-helpers.js';
import { processesWhere, sandpod } from './helpers.js';

let base: string;
let ctx: CriTestContext;
let config: string;
let original: string;
const prefix = (): string => join(base, 'opt');
/** Sandpod's roots for the installed shim: temporary, like everything here (the shim's defaults are /run/sandpod, /var/lib/sandpod). */
const roots = (): NodeJS.ProcessEnv => ({ ...process.env, SANDPOD_RUN_DIR: join(base, 'run'), SANDPOD_STATE_DIR: join(base, 'state') });

/** What an operator writes: their own paths, their sandbox image and CNI directories, runc as the default. */
const operatorConfig = (dir: string): string => `version = 2
root = "${dir}/root"
state = "${dir}/state"

[grpc]
  address = "${dir}/containerd.sock"

[ttrpc]
  address = "${dir}/containerd.sock.ttrpc"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${PAUSE_IMAGE}"
  # This machine runs without CAP_SYS_RESOURCE; pod network namespaces stay under this containerd's state.
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = "${dir}/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "${CNI_BIN_DIR}"
    conf_dir = "${dir}/cni/net.d"
`;

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'sandpod-e2e-node-install-'));
  ctx = await startCriContainerd(base, {
    env: roots(),
    containerdConfig: async (dir) => {
      await mkdir(dir, { recursive: true });
      config = join(dir, 'config.toml');
      original = operatorConfig(dir);
      await writeFile(config, original);
      return config;
    },
  });
});

after(async () => {
  const left = ctx ? await stopCriContainerd(ctx) : [];
  const qemus = await processesWhere((cmd) => cmd.startsWith('qemu-system') && cmd.includes(base));
  for (const pid of qemus) process.kill(pid, 'SIGKILL');
  await rm(base, { recursive: true, force: true });
  assert.deepEqual([...left, ...qemus.map((p) => `qemu ${p}`)], [], 'nothing of the pods is left');
});

test('node install adds the sandpod-vm handler to an operator\'s containerd, a VM pod runs on it, and uninstall gives the configuration back byte for byte', async () => {
  await assert.rejects(runTestPod(ctx, 'before', 'sandpod-vm'), /no runtime for "sandpod-vm" is configured/, 'the node has no sandpod-vm handler yet');

  const dry = await sandpod(['node', 'install', '--containerd-config', config, '--prefix', prefix(), '--dry-run'], roots());
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /dry run: nothing is changed/);
  assert.equal(await readFile(config, 'utf8'), original, 'a dry run changes nothing');
  assert.deepEqual(await readdir(prefix()).catch(() => []), []);

  const install = await sandpod(['node', 'install', '--containerd-config', config, '--prefix', prefix()], roots(), undefined, 300_000);
  assert.equal(install.code, 0, install.stderr);
  assert.match(install.stdout, /is not a systemd service: restart it the way it was started/, 'containerd here is not systemd\'s: the install says what to do');
  const drop = join(base, 'containerd', 'sandpod', 'sandpod-vm.toml');
  assert.match(await readFile(config, 'utf8'), new RegExp(`^imports = \\["${drop}"\\]`, 'm'));
  const [version] = (await readdir(prefix())).filter((d) => /^\d+\.\d+\.\d+-[0-9a-f]{12}$/.test(d));
  assert.ok(version, `a versioned payload directory in ${prefix()}`);
  const backups = await readdir(join(prefix(), 'backups'));
  assert.equal(backups.length, 1, 'the configuration was backed up before it changed');

  const again = await sandpod(['node', 'install', '--containerd-config', config, '--prefix', prefix()], roots(), undefined, 300_000);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /up to date/);
  assert.match(again.stdout, /containerd keeps running: its configuration did not change/);
  assert.equal((await readdir(join(prefix(), 'backups'))).length, 1, 'an install that changes nothing backs nothing up');

  await ctx.containerd.restart();
  const pod = await runTestPod(ctx, 'installed', 'sandpod-vm');
  const app = await startTestContainer(ctx, pod, { name: 'app', command: ['sleep', '1000'] });
  const { stdout } = await ctx.cri.execSync({ container_id: app, cmd: ['uname', '-r'], timeout: 60 });
  assert.notEqual(stdout.toString().trim(), (await readFile('/proc/sys/kernel/osrelease', 'utf8')).trim(), 'the container runs on the guest kernel');
  const qemu = await processesWhere((cmd) => cmd.startsWith('qemu-system') && cmd.includes(join(prefix(), version, 'cache', 'guest', 'vmlinux')));
  assert.equal(qemu.length, 1, 'the VM boots the installed guest kernel');
  const shims = await processesWhere((cmd) => cmd.includes(join(prefix(), version, 'lib', 'shim')));
  assert.ok(shims.length > 0, 'the installed shim serves the pod');
  await removeTestPod(ctx, pod.id);

  const un = await sandpod(['node', 'uninstall', '--prefix', prefix()], roots());
  assert.equal(un.code, 0, un.stderr);
  assert.equal(await readFile(config, 'utf8'), original, 'the configuration is byte for byte the operator\'s again');
  assert.deepEqual((await readdir(prefix())).sort(), ['backups'], 'only the backups stay');
  await ctx.containerd.restart();
  await assert.rejects(runTestPod(ctx, 'after', 'sandpod-vm'), /no runtime for "sandpod-vm" is configured/, 'the handler is gone');
  const twice = await sandpod(['node', 'uninstall', '--prefix', prefix()], roots());
  assert.match(twice.stdout, /nothing to uninstall/);
});
