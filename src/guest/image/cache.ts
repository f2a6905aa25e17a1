/**
 * Content-keyed build cache: an artifact lives in `<dir>/<name>-<key>`, built into a temporary sibling and
 * renamed into place, so concurrent builders never see half an artifact and a changed input means a new key.
 */
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function hashKey(parts: (string | Buffer)[]): string {
  const h = createHash('sha256');
  for (const p of parts) { h.update(p); h.update('\0'); }
  return h.digest('hex').slice(0, 16);
}

/** A cheap identity for a large file: path, size and modification time. */
export async function fileIdentity(path: string): Promise<string> {
  const st = await stat(path);
  return `${path}:${st.size}:${st.mtimeMs}`;
}

async function exists(path: string): Promise<boolean> {
  try { await stat(path); return true; } catch { return false; }
}

/**
 * Returns the cached directory for (name, key), building it with `build(outDir, scratchDir)` when absent.
 * Only what the builder writes to outDir is kept.
 */
export async function cachedDir(dir: string, name: string, key: string, build: (out: string, scratch: string) => Promise<void>): Promise<{ path: string; built: boolean }> {
  const final = join(dir, `${name}-${key}`);
  if (await exists(final)) return { path: final, built: false };
  await mkdir(dir, { recursive: true });
  const tmp = await mkdtemp(join(dir, `.${name}-`));
  const scratch = await mkdtemp(join(tmpdir(), `sandpod-${name}-`));
  try {
    await build(tmp, scratch);
    await chmod(tmp, 0o755);
    try {
      await rename(tmp, final);
    } catch (err) {
      if (!(await exists(final))) throw err; // someone else finished first: theirs is as good as ours
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
    await rm(scratch, { recursive: true, force: true });
  }
  return { path: final, built: true };
}
