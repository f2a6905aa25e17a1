/**
 * Dynamically linked programs in an image: the binary, every shared library `ldd` resolves for it and the
 * program loader, each copied to the same path in the root filesystem, so the program runs there as it does
 * on the host, without LD_LIBRARY_PATH.
 */
import { copyFile, chmod, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { imageCacheDir, type SandpodPaths } from '../paths.js';
import { runTool } from '../run-tool.js';
import { BUSYBOX_STATIC, busyboxRootfs } from './busybox.js';
import { builderSources, cachedArchive, contentKey, fileIdentity, type ImageArchive } from './cache.js';
import { writeOciArchive } from './oci.js';

/** The files a program needs from the host: itself, its libraries and the loader (absolute paths). */
export async function programFiles(binary: string): Promise<string[]> {
  const out = (await runTool(`program ${binary}`, 'ldd', [binary])).toString();
  // Lines are `libc.so.6 => /lib/…/libc.so.6 (0x…)` or `/lib64/ld-linux-x86-64.so.2 (0x…)`; vdso has no path.
  const needed = out.split('\n').flatMap((line) => line.split(/\s+/).filter((word) => word.startsWith('/')));
  return [binary, ...new Set(needed)];
}

/** Copies `binary` and what it needs into `rootfs` at the same paths. Returns the host files copied. */
export async function copyProgram(rootfs: string, binary: string): Promise<string[]> {
  const files = await programFiles(binary);
  for (const file of files) {
    const target = join(rootfs, file);
    await mkdir(dirname(target), { recursive: true });
    await copyFile(file, target);
    await chmod(target, 0o755);
  }
  return files;
}

export interface ProgramImage {
  /** The image reference, e.g. `sandpod.local/stress:latest`. */
  name: string;
  /** The archive's file name part in the image cache. */
  file: string;
  /** The host program the image carries, with what it needs. */
  program: string;
  cmd: string[];
  /** The module defining the image (`./stress.js`): a change to it changes the archive's key. */
  builder: string;
}

/** An image of one Debian program on the busybox userland, written once per (program and its libraries, busybox, builder) and cached. */
export async function programImageArchive(paths: SandpodPaths, image: ProgramImage, busybox = BUSYBOX_STATIC): Promise<ImageArchive> {
  const inputs = await Promise.all([...(await programFiles(image.program)), busybox].map(fileIdentity));
  const key = contentKey([image.name, ...inputs, ...(await builderSources('./oci.js', './busybox.js', './programs.js', image.builder))]);
  const archive = await cachedArchive(imageCacheDir(paths), image.file, key, async (out, scratch) => {
    const rootfs = await busyboxRootfs(join(scratch, 'rootfs'), busybox);
    await copyProgram(rootfs, image.program);
    await writeOciArchive(rootfs, { name: image.name, cmd: image.cmd }, out);
  });
  return { name: image.name, archive };
}
