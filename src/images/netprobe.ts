/**
 * The netprobe image: this machine's Node.js (the Debian-packaged `nodejs`, with its shared libraries) and the
 * netprobe program (netprobe/main.ts) on the busybox userland, for the NetworkPolicy tests and bench/netpol. Not one
 * of the lab images every cluster's registry gets (Node.js is 100 MB): the tests and the bench push it themselves.
 */
import { chmod, copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { imageCacheDir, type SandpodPaths } from '../paths.js';
import { BUSYBOX_STATIC, busyboxRootfs } from './busybox.js';
import { builderSources, cachedArchive, contentKey, fileIdentity, type ImageArchive } from './cache.js';
import { writeOciArchive } from './oci.js';
import { copyProgram, programFiles } from './programs.js';

export const NODEJS = '/usr/bin/node';
export const NETPROBE_IMAGE = 'sandpod.local/netprobe:latest';
const SCRIPT = fileURLToPath(new URL('./netprobe/main.js', import.meta.url));

/** The netprobe image archive, cached by Node.js, busybox, the program and this builder. */
export async function netprobeImageArchive(paths: SandpodPaths, node = NODEJS, busybox = BUSYBOX_STATIC): Promise<ImageArchive> {
  const inputs = await Promise.all([...(await programFiles(node)), busybox].map(fileIdentity));
  const key = contentKey([NETPROBE_IMAGE, ...inputs, await readFile(SCRIPT), ...(await builderSources('./oci.js', './busybox.js', './programs.js', './netprobe.js'))]);
  const archive = await cachedArchive(imageCacheDir(paths), 'netprobe', key, async (out, scratch) => {
    const rootfs = await busyboxRootfs(join(scratch, 'rootfs'), busybox);
    await copyProgram(rootfs, node);
    // Without a package.json beside it the program must say it is a module: .mjs.
    await mkdir(join(rootfs, 'usr/local/lib'), { recursive: true });
    await copyFile(SCRIPT, join(rootfs, 'usr/local/lib/netprobe.mjs'));
    await writeFile(join(rootfs, 'bin/netprobe'), `#!/bin/sh\nexec ${node} /usr/local/lib/netprobe.mjs "$@"\n`);
    await chmod(join(rootfs, 'bin/netprobe'), 0o755);
    await writeOciArchive(rootfs, { name: NETPROBE_IMAGE, cmd: ['netprobe', 'serve'] }, out);
  });
  return { name: NETPROBE_IMAGE, archive };
}
