/**
 * Writes a volume's files so that a reader never sees half an update, as kubelet's AtomicWriter does: the files
 * live in a timestamped directory, `..data` is a symlink to the current one and is swapped by rename(2), and
 * each top-level name the user sees is a symlink through `..data`. A running container therefore sees a changed
 * ConfigMap all at once, and an unchanged one is not rewritten.
 */
import { lstat, mkdir, readdir, readFile, readlink, rename, rm, stat, symlink, chown, chmod, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Projection } from './projection.js';

const DATA = '..data';
const DATA_TMP = '..data_tmp';

const stamp = (): string => {
  const d = new Date();
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `..${d.getUTCFullYear()}_${p(d.getUTCMonth() + 1)}_${p(d.getUTCDate())}_${p(d.getUTCHours())}_${p(d.getUTCMinutes())}_${p(d.getUTCSeconds())}.${p(Math.floor(Math.random() * 1e9), 9)}`;
};

async function current(dir: string): Promise<string | undefined> {
  return readlink(join(dir, DATA)).catch(() => undefined);
}

/** Whether the directory already holds exactly `files` (content and mode). */
async function same(dataDir: string, files: Projection, gid: number | undefined): Promise<boolean> {
  for (const [path, f] of files) {
    const st = await stat(join(dataDir, path)).catch(() => undefined);
    if (!st || (st.mode & 0o7777) !== modeFor(f.mode, gid) || (gid !== undefined && st.gid !== gid)) return false;
    if (!(await readFile(join(dataDir, path))).equals(f.data)) return false;
  }
  const count = async (d: string): Promise<number> => {
    let n = 0;
    for (const e of await readdir(d, { withFileTypes: true })) n += e.isDirectory() ? await count(join(d, e.name)) : 1;
    return n;
  };
  return (await count(dataDir)) === files.size;
}

/** With an fsGroup the group may read what the owner may, as kubelet's volume ownership does. */
const modeFor = (mode: number, gid: number | undefined): number => (gid === undefined ? mode : mode | ((mode & 0o400) >> 3));

const topLevel = (path: string): string => path.split('/')[0] ?? path;

/**
 * Makes `dir` hold `files`; returns whether anything changed. `gid` (the pod's fsGroup) owns the files when set.
 */
export async function writeAtomically(dir: string, files: Projection, gid?: number): Promise<boolean> {
  await mkdir(dir, { recursive: true });
  const old = await current(dir);
  if (old && (await same(join(dir, old), files, gid))) return false;
  const fresh = stamp();
  const dataDir = join(dir, fresh);
  await mkdir(dataDir, { mode: 0o755 });
  for (const [path, f] of files) {
    const target = join(dataDir, path);
    await mkdir(dirname(target), { recursive: true, mode: 0o755 });
    await writeFile(target, f.data);
    if (gid !== undefined) await chown(target, 0, gid);
    await chmod(target, modeFor(f.mode, gid));
  }
  if (gid !== undefined) await chown(dataDir, 0, gid);
  await rm(join(dir, DATA_TMP), { force: true });
  await symlink(fresh, join(dir, DATA_TMP));
  await rename(join(dir, DATA_TMP), join(dir, DATA));
  const visible = new Set([...files.keys()].map(topLevel));
  for (const name of visible) {
    const link = join(dir, name);
    const st = await lstat(link).catch(() => undefined);
    if (st?.isSymbolicLink()) continue;
    if (st) await rm(link, { recursive: true, force: true });
    await symlink(join(DATA, name), link);
  }
  for (const e of await readdir(dir)) {
    if (e === DATA || e === fresh || visible.has(e)) continue;
    await rm(join(dir, e), { recursive: true, force: true });
  }
  return true;
}
