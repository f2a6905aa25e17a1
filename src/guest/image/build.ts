/**
 * Assembles the guest image (kernel, initramfs, runtime image) from the cached Debian kernel and this
 * checkout's agent, rebuilding each part only when one of its inputs changed.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { CURRENT_IMAGE_FILE } from '../../protocol/index.js';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { guestImageCacheDir, kernelCacheDir, type SandpodPaths } from '../../paths.js';
import { GUEST_MODULES } from '../layout.js';
import { cachedDir, fileIdentity, hashKey } from './cache.js';
import { buildInitramfs } from './initramfs.js';
import { ensureVmlinux, findKernel, indexModules } from './kernel.js';
import { MODULE_TABLES_VERSION, ON_DEMAND_MODULES } from './modules.js';
import { buildRuntimeImage } from './runtime-image.js';
import { initScript, modprobeScript, mountRootfsScript, prepareRootScript, SANDBOX_DEV_LINKS, SANDBOX_DEVICES } from './scripts.js';

export interface GuestImage {
  kernelRelease: string;
  vmlinux: string;
  initramfs: string;
  runtimeImage: string;
}

export interface GuestImageInputs {
  busybox: string;
  reseedSource: string;
  spawnSource: string;
  agentBundle: string;
  nodePtyDir: string;
  node: string;
}

export function defaultImageInputs(): GuestImageInputs {
  const here = dirname(fileURLToPath(import.meta.url));
  return {
    busybox: '/bin/busybox',
    reseedSource: join(here, 'reseed.c'),
    spawnSource: join(here, 'spawn.c'),
    agentBundle: join(here, '../../../../dist/guest-agent/agent.cjs'),
    nodePtyDir: dirname(createRequire(import.meta.url).resolve('node-pty/package.json')),
    node: process.execPath,
  };
}

export type Progress = (step: string) => void;

export async function ensureGuestImage(paths: SandpodPaths, inputs = defaultImageInputs(), progress: Progress = () => undefined): Promise<GuestImage> {
  const cache = guestImageCacheDir(paths);
  const kernel = await findKernel(kernelCacheDir(paths));
  const vmlinux = await ensureVmlinux(cache, kernel);

  const initKey = hashKey([
    kernel.release, GUEST_MODULES.join(','), initScript(), mountRootfsScript(), prepareRootScript(), modprobeScript(),
    JSON.stringify([SANDBOX_DEVICES, SANDBOX_DEV_LINKS]),
    await fileIdentity(inputs.busybox),
    await readFile(inputs.reseedSource),
    await readFile(inputs.spawnSource),
    await readFile(inputs.agentBundle),
    await readFile(join(inputs.nodePtyDir, 'build/Release/pty.node')),
  ]);
  const initramfs = await cachedDir(cache, 'initramfs', initKey, async (out, scratch) => {
    progress('building the guest initramfs');
    await buildInitramfs({ ...inputs, modules: await indexModules(kernel.modulesDir) }, join(out, 'initramfs.cpio'), scratch);
  });

  const rtKey = hashKey([await fileIdentity(inputs.node), kernel.release, ON_DEMAND_MODULES.join(','), String(MODULE_TABLES_VERSION)]);
  const runtime = await cachedDir(cache, 'runtime', rtKey, async (out, scratch) => {
    progress('building the guest runtime image (Node, kernel modules)');
    const modules = { index: await indexModules(kernel.modulesDir), kernelDir: join(kernel.modulesDir, 'kernel') };
    await buildRuntimeImage({ node: inputs.node, modules }, join(out, 'runtime.sqfs'), scratch);
  });

  const image: GuestImage = {
    kernelRelease: kernel.release,
    vmlinux,
    initramfs: join(initramfs.path, 'initramfs.cpio'),
    runtimeImage: join(runtime.path, 'runtime.sqfs'),
  };
  // The newest image, for programs that boot guests without building them (the containerd shim).
  await writeFile(join(cache, `${CURRENT_IMAGE_FILE}.tmp`), JSON.stringify(image));
  await rename(join(cache, `${CURRENT_IMAGE_FILE}.tmp`), join(cache, CURRENT_IMAGE_FILE));
  return image;
}
