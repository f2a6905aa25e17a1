/**
 * The stress image: Debian's stress-ng with its shared libraries on the busybox userland, for workloads that
 * load CPUs and memory in the lab (`stress-ng --cpu 2 --vm 1 --vm-bytes 200M --timeout 60s`).
 */
import { join } from 'node:path';
import { imageCacheDir, type SandpodPaths } from '../paths.js';
import { BUSYBOX_STATIC, busyboxRootfs } from './busybox.js';
import { builderSources, cachedArchive, contentKey, fileIdentity, type ImageArchive } from './cache.js';
import { writeOciArchive } from './oci.js';
import { copyProgram, programFiles } from './programs.js';

export const STRESS_NG = '/usr/bin/stress-ng';
export const STRESS_IMAGE = 'sandpod.local/stress:latest';

/** The stress image archive, written once per (stress-ng and its libraries, busybox, builder) and cached. */
export async function stressImageArchive(paths: SandpodPaths, stressNg = STRESS_NG, busybox = BUSYBOX_STATIC): Promise<ImageArchive> {
  const inputs = await Promise.all([...(await programFiles(stressNg)), busybox].map(fileIdentity));
  const key = contentKey([STRESS_IMAGE, ...inputs, ...(await builderSources('./oci.js', './busybox.js', './programs.js', './stress.js'))]);
  const archive = await cachedArchive(imageCacheDir(paths), 'stress', key, async (out, scratch) => {
    const rootfs = await busyboxRootfs(join(scratch, 'rootfs'), busybox);
    await copyProgram(rootfs, stressNg);
    await writeOciArchive(rootfs, { name: STRESS_IMAGE, cmd: ['stress-ng', '--version'] }, out);
  });
  return { name: STRESS_IMAGE, archive };
}
