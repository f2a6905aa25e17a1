/** The host's mount table, read from /proc/self/mountinfo, and unmounting everything below a directory. */
import { readFile } from 'node:fs/promises';
import { runTool } from './run-tool.js';

/** mountinfo escapes space, tab, newline and backslash as octal (\040). */
const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));

/** Every mount point of this mount namespace, in mount order. */
export async function mountPoints(): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  return text.split('\n').filter((l) => l !== '').map((l) => unescape(l.split(' ')[4] ?? ''));
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
