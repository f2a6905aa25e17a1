/**
 * Root filesystems built from Debian's packages on this machine: busybox-static and its applets, a passwd
 * and group file, /tmp. Nothing is fetched from a registry.
 */
import { execFile } from 'node:child_process';
import { copyFile, chmod, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

export const BUSYBOX_STATIC = '/bin/busybox';

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
