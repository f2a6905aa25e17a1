/**
 * The initramfs: busybox, the kernel modules init loads, init itself, the rootfs mounter, the module loader
 * the kernel calls (its modules are on the runtime image) and the agent bundle
 * (with node-pty, the agent's one native dependency). Packed uncompressed: decompressing costs more than
 * reading under TCG.
 */
import { chmod, copyFile, cp, mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { notFound } from '../../errors.js';
import {
  AGENT_BUNDLE, AGENT_DIR, BUSYBOX, GUEST_MODULES, MODPROBE_TOOL, MOUNT_ROOTFS_SCRIPT, PREPARE_ROOT_SCRIPT, RESEED_TOOL, SANDBOX_DEV_TEMPLATE,
  SPAWN_TOOL,
} from '../layout.js';
import { runTool } from '../../run-tool.js';
import { moduleBytes } from './modules.js';
import { initScript, modprobeScript, mountRootfsScript, prepareRootScript, SANDBOX_DEV_LINKS, SANDBOX_DEVICES } from './scripts.js';

export interface InitramfsInputs {
  busybox: string;
  /** C source of the RNG reseed helper, compiled statically with the host's gcc. */
  reseedSource: string;
  /** C source of the container process launcher, compiled the same way. */
  spawnSource: string;
  agentBundle: string;
  nodePtyDir: string;
  modules: Map<string, string>;
}

export async function buildInitramfs(inputs: InitramfsInputs, out: string, workDir: string): Promise<void> {
  const root = join(workDir, 'root');
  for (const d of ['bin', 'sbin', 'dev', 'proc', 'sys', 'lib/modules', 'run', 'tmp', 'etc']) await mkdir(join(root, d), { recursive: true });
  await copyFile(inputs.busybox, join(root, BUSYBOX));
  await chmod(join(root, BUSYBOX), 0o755);
  for (const name of GUEST_MODULES) {
    const src = inputs.modules.get(name);
    if (!src) throw notFound('guest-image', `kernel module ${name} is missing from the guest kernel's module tree`);
    await writeFile(join(root, 'lib/modules', `${name}.ko`), await moduleBytes(src));
  }
  await writeFile(join(root, 'init'), initScript(), { mode: 0o755 });
  await buildDevTemplate(join(root, SANDBOX_DEV_TEMPLATE));
  for (const [tool, source] of [[RESEED_TOOL, inputs.reseedSource], [SPAWN_TOOL, inputs.spawnSource]] as const) {
    await runTool('guest-image', 'gcc', ['-static', '-Os', '-s', '-o', join(root, tool), source]);
  }
  await writeFile(join(root, MOUNT_ROOTFS_SCRIPT), mountRootfsScript(), { mode: 0o755 });
  await writeFile(join(root, PREPARE_ROOT_SCRIPT), prepareRootScript(), { mode: 0o755 });
  await writeFile(join(root, MODPROBE_TOOL), modprobeScript(), { mode: 0o755 });
  await mkdir(join(root, AGENT_DIR), { recursive: true });
  await copyFile(inputs.agentBundle, join(root, AGENT_BUNDLE));
  const pty = join(root, AGENT_DIR, 'node_modules/node-pty');
  await mkdir(join(pty, 'build/Release'), { recursive: true });
  await copyFile(join(inputs.nodePtyDir, 'package.json'), join(pty, 'package.json'));
  await cp(join(inputs.nodePtyDir, 'lib'), join(pty, 'lib'), { recursive: true, filter: (s) => !s.endsWith('.map') && !s.endsWith('.test.js') });
  await copyFile(join(inputs.nodePtyDir, 'build/Release/pty.node'), join(pty, 'build/Release/pty.node'));
  await mkdir(dirname(out), { recursive: true });
  const files = await listTree(root);
  await runTool('guest-image', 'sh', ['-c', `cpio --quiet -o -H newc --reproducible -R 0:0 > "${out}"`], { cwd: root, input: Buffer.from(files.join('\n') + '\n') });
}

async function buildDevTemplate(dir: string): Promise<void> {
  await mkdir(join(dir, 'pts'), { recursive: true });
  await mkdir(join(dir, 'shm'));
  for (const [name, major, minor] of SANDBOX_DEVICES) {
    await runTool('guest-image', 'mknod', ['-m', '666', join(dir, name), 'c', String(major), String(minor)]);
  }
  for (const [name, target] of SANDBOX_DEV_LINKS) await symlink(target, join(dir, name));
}

async function listTree(root: string, rel = '.'): Promise<string[]> {
  const out = [rel];
  for (const e of await readdir(join(root, rel), { withFileTypes: true })) {
    const p = `${rel}/${e.name}`;
    if (e.isDirectory()) out.push(...(await listTree(root, p)));
    else out.push(p);
  }
  return out;
}
