/**
 * Root filesystems built from Debian's packages on this machine: busybox-static and its applets, a passwd
 * and group file, /tmp; and the busybox test image made from one. Nothing is fetched from a registry.
 */
import { execFile } from 'node:child_process';
import { copyFile, chmod, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { imageCacheDir, type SandpodPaths } from '../paths.js';
import { builderSources, cachedArchive, contentKey, fileIdentity, type ImageArchive } from './cache.js';
import { writeOciArchive } from './oci.js';

export const BUSYBOX_STATIC = '/bin/busybox';
/** The test image: busybox's applets (sh, ip, ping, wget, httpd, nc, …), `sh` by default. */
export const BUSYBOX_IMAGE = 'sandpod.local/busybox:latest';

/** Fills `dir` with a busybox userland: /bin/busybox plus one link per applet. Returns `dir`. */
export async function busyboxRootfs(dir: string, busybox = BUSYBOX_STATIC): Promise<string> {
  for (const d of ['bin', 'etc', 'tmp', 'root', 'proc', 'sys', 'dev']) await mkdir(join(dir, d), { recursive: true });
  await chmod(join(dir, 'tmp'), 0o1777);
  await copyFile(busybox, join(dir, 'bin/busybox'));
  await chmod(join(dir, 'bin/busybox'), 0o755);
  const { stdout } = await promisify(execFile)(busybox, ['--list']);
  for (const applet of stdout.split('\n')) {
    if (applet && applet !== 'busybox') await symlink('busybox', join(dir, 'bin', applet)).catch(() => undefined);
  }
  await writeFile(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
  await writeFile(join(dir, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
  return dir;
}

/** The busybox test image archive, written once per (busybox binary, builder) and cached. */
export async function busyboxImageArchive(paths: SandpodPaths, busybox = BUSYBOX_STATIC): Promise<ImageArchive> {
  const key = contentKey([BUSYBOX_IMAGE, await fileIdentity(busybox), ...(await builderSources('./oci.js', './busybox.js'))]);
  const archive = await cachedArchive(imageCacheDir(paths), 'busybox', key, async (out, scratch) => {
    await writeOciArchive(await busyboxRootfs(join(scratch, 'rootfs'), busybox), { name: BUSYBOX_IMAGE, cmd: ['sh'] }, out);
  });
  return { name: BUSYBOX_IMAGE, archive };
}
