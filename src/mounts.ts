/** The host's mount table, read from /proc/self/mountinfo, and unmounting everything below a directory. */
import { readFile } from 'node:fs/promises';
import { runTool } from './run-tool.js';

/** mountinfo escapes space, tab, newline and backslash as octal (\040). */
const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));

export interface MountEntry { id: number; parent: number; device: string; root: string; mountPoint: string }

/** The entries of a mountinfo file (proc(5)): ids, the filesystem's device, the mount's root in it, and where it is. */
export function mountEntries(text: string): MountEntry[] {
  return text.split('\n').filter(Boolean).map((line) => {
    const [id, parent, device, root, mountPoint] = line.split(' ');
    return { id: Number(id), parent: Number(parent), device: device ?? '', root: unescape(root ?? ''), mountPoint: unescape(mountPoint ?? '') };
  });
}

/** Every mount point of this mount namespace, in mount order. */
export async function mountPoints(): Promise<string[]> {
  return mountEntries(await readFile('/proc/self/mountinfo', 'utf8')).map((e) => e.mountPoint);
}

export async function isMounted(path: string): Promise<boolean> {
  return (await mountPoints()).includes(path);
}

/** Unmounts `dir` and every mount below it, innermost first; a busy mount is detached lazily. */
export async function unmountBelow(dir: string, object: string): Promise<void> {
  const below = (await mountPoints()).filter((m) => m === dir || m.startsWith(`${dir}/`));
  for (const m of [...new Set(below)].sort((a, b) => b.length - a.length)) {
    await runTool(object, 'umount', [m]).catch(() => runTool(object, 'umount', ['-l', m]));
  }
}
