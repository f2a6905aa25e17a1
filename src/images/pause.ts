/**
 * The pod sandbox ("pause") image containerd's CRI starts first in every pod: one static binary compiled here
 * from pause.c, so no registry is needed. Named like upstream's so configurations read familiarly.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { imageCacheDir, type SandpodPaths } from '../paths.js';
import { runTool } from '../run-tool.js';
import { builderSources, cachedArchive, contentKey, fileIdentity, type ImageArchive } from './cache.js';
import { writeOciArchive } from './oci.js';

export const PAUSE_IMAGE = 'sandpod.local/pause:3.9';
const GCC = '/usr/bin/gcc';

/** The pause image archive, compiled and written once per (pause.c, gcc, builder) and cached. */
export async function pauseImageArchive(paths: SandpodPaths): Promise<ImageArchive> {
  const source = fileURLToPath(new URL('./pause.c', import.meta.url));
  const key = contentKey([PAUSE_IMAGE, await readFile(source), await fileIdentity(GCC), ...(await builderSources('./oci.js', './pause.js'))]);
  const archive = await cachedArchive(imageCacheDir(paths), 'pause', key, async (out, scratch) => {
    const rootfs = join(scratch, 'rootfs');
    await mkdir(rootfs);
    await runTool(`image/${PAUSE_IMAGE}`, GCC, ['-static', '-O2', '-s', '-o', join(rootfs, 'pause'), source]);
    await writeOciArchive(rootfs, { name: PAUSE_IMAGE, cmd: ['/pause'] }, out);
  });
  return { name: PAUSE_IMAGE, archive };
}
