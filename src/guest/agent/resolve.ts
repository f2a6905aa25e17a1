/**
 * Path resolution inside a root directory that is not the agent's own root: symlinks are followed as the
 * chrooted process would see them, so an absolute link never escapes to the agent's files.
 */
import { lstat, readlink, stat } from 'node:fs/promises';
import { posix } from 'node:path';

const MAX_LINKS = 40;

/** Resolves `path` (absolute, as seen inside `root`) to a host path under `root`, or undefined if it does not exist. */
export async function resolveInRoot(root: string, path: string): Promise<string | undefined> {
  let parts = posix.normalize(path).split('/').filter((p) => p !== '' && p !== '.');
  let resolved: string[] = [];
  let links = 0;
  while (parts.length > 0) {
    const part = parts.shift() as string;
    if (part === '..') { resolved.pop(); continue; }
    const candidate = posix.join(root, ...resolved, part);
    let st;
    try { st = await lstat(candidate); } catch { return undefined; }
    if (st.isSymbolicLink()) {
      if (++links > MAX_LINKS) return undefined;
      const target = await readlink(candidate);
      const targetParts = target.split('/').filter((p) => p !== '' && p !== '.');
      if (target.startsWith('/')) resolved = [];
      parts = [...targetParts, ...parts];
      continue;
    }
    resolved.push(part);
  }
  return posix.join(root, ...resolved);
}

/**
 * Finds the executable a process would run: `cmd` itself when it has a slash, else the first match on PATH.
 * Returns the in-root path, or undefined when nothing executable is found.
 */
export async function findExecutable(root: string, cmd: string, pathEnv: string, cwd = '/'): Promise<string | undefined> {
  const candidates = cmd.includes('/')
    ? [posix.resolve(cwd, cmd)]
    : pathEnv.split(':').filter((d) => d !== '').map((d) => posix.join(posix.resolve(cwd, d), cmd));
  for (const c of candidates) {
    const host = await resolveInRoot(root, c);
    if (!host) continue;
    try {
      const st = await stat(host);
      if (st.isFile() && (st.mode & 0o111) !== 0) return c;
    } catch { /* dangling */ }
  }
  return undefined;
}

export async function isDirectoryInRoot(root: string, path: string): Promise<boolean> {
  const host = await resolveInRoot(root, path);
  if (!host) return false;
  try { return (await stat(host)).isDirectory(); } catch { return false; }
}
