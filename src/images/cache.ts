/**
 * Built image archives, kept under the Sandpod cache keyed by their inputs: `<cache>/images/<name>-<key>.tar`.
 * A build writes a temporary sibling and renames it into place, so concurrent builders never see half an
 * archive, and a changed input means a new key (old archives are only cache to delete).
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** An image archive on disk and the reference it carries. */
export interface ImageArchive { name: string; archive: string }

/** A short key over the inputs that determine an archive's content. */
export function contentKey(parts: (string | Buffer)[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex').slice(0, 16);
}

/** A cheap identity for a large input file (a compiler, a static binary): path, size and modification time. */
export async function fileIdentity(path: string): Promise<string> {
  const st = await stat(path);
  return `${path}:${st.size}:${st.mtimeMs}`;
}

/** The compiled text of this folder's builder modules, so that changing how an image is built changes its key. */
export const builderSources = (...modules: string[]): Promise<Buffer[]> =>
  Promise.all(modules.map((m) => readFile(new URL(m, import.meta.url))));

/**
 * The archive for (name, key) under `dir`, made by `build(archivePath, scratchDir)` if it is not there yet.
 * `name` is a file name part, e.g. `pause-3.9`.
 */
export async function cachedArchive(dir: string, name: string, key: string, build: (archive: string, scratch: string) => Promise<void>): Promise<string> {
  const final = join(dir, `${name}-${key}.tar`);
  if (await stat(final).then(() => true, () => false)) return final;
  await mkdir(dir, { recursive: true });
  const scratch = await mkdtemp(join(tmpdir(), `sandpod-image-${name}-`));
  const partial = join(dir, `.${name}-${key}.${process.pid}.tar`);
  try {
    await build(partial, scratch);
    await rename(partial, final);
  } finally {
    await rm(partial, { force: true });
    await rm(scratch, { recursive: true, force: true });
  }
  return final;
}
