/**
 * What `node install` puts on a node, in one versioned directory `<prefix>/<version>/`:
 *
 *   bin/containerd-shim-sandpod-v2   the wrapper containerd runs (the handler's runtime_type): the host's Node on the bundle
 *   lib/shim/…, lib/ttrpc/…          the shim as one bundled module and the protocol files it loads
 *   cache/guest/…                    the guest kernel, initramfs and runtime image, and the file naming them
 *   cache/probe/accelerator.json     the accelerator verdict of the install's probe
 *
 * The version is Sandpod's package version and a hash of the payload, so the same payload installs into
 * the same directory (nothing changes) and a different one into a new directory.
 */
import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { failedPrecondition, notFound } from '../errors.js';
import { ensureGuestImage, type GuestImage, type Progress } from '../guest/index.js';
import type { SandpodPaths } from '../paths.js';
import { CURRENT_IMAGE_FILE } from '../protocol/index.js';

/** The shim bundle's file name in `lib/shim/` (scripts/build writes it to dist/shim-bundle/shim/). */
export const SHIM_BUNDLE = 'containerd-shim-sandpod-v2.mjs';
export const SHIM_WRAPPER = 'containerd-shim-sandpod-v2';

/** Where an install takes its files from. */
export interface PayloadSource {
  /** A directory holding `shim/` and `ttrpc/` as scripts/build lays them out in dist/shim-bundle. */
  shimDir: string;
  guest: GuestImage;
  /** Sandpod's package version. */
  version: string;
  /** The full version of a payload made earlier (`--from`), used as it is. */
  exactVersion?: string;
}

/** The payload of this build: its shim bundle and the guest image (built, or found in the cache). */
export async function checkoutPayload(paths: SandpodPaths, progress?: Progress): Promise<PayloadSource> {
  return { shimDir: builtShimDir(), guest: await ensureGuestImage(paths, undefined, progress), version: await packageVersion() };
}

/** dist/shim-bundle of this build, beside the compiled modules. */
export const builtShimDir = (): string => fileURLToPath(new URL('../../shim-bundle', import.meta.url));

/** Sandpod's package version (package.json beside dist/). */
export async function packageVersion(): Promise<string> {
  for (const rel of ['../../../package.json', '../../package.json']) {
    const text = await readFile(new URL(rel, import.meta.url), 'utf8').catch(() => undefined);
    if (text) return (JSON.parse(text) as { version: string }).version;
  }
  return '0.0.0';
}

const guestFiles = (g: GuestImage): [string, string][] => [['vmlinux', g.vmlinux], ['initramfs.cpio', g.initramfs], ['runtime.sqfs', g.runtimeImage]];

async function shimFiles(shimDir: string): Promise<string[]> {
  const out: string[] = [];
  for (const sub of ['shim', 'ttrpc']) {
    const entries = await readdir(join(shimDir, sub)).catch(() => {
      throw notFound('shim-bundle', `no shim bundle in ${shimDir}/${sub}; build Sandpod with scripts/build`);
    });
    out.push(...entries.sort().map((e) => `${sub}/${e}`));
  }
  if (!out.includes(`shim/${SHIM_BUNDLE}`)) throw notFound('shim-bundle', `${shimDir}/shim/${SHIM_BUNDLE} is missing; build Sandpod with scripts/build`);
  return out;
}

/** `<package version>-<12 hex digits of the payload's hash>`. */
export async function payloadVersion(src: PayloadSource): Promise<string> {
  if (src.exactVersion) return src.exactVersion;
  const h = createHash('sha256');
  for (const f of await shimFiles(src.shimDir)) { h.update(f); h.update(await readFile(join(src.shimDir, f))); }
  // The guest files are large and their cache names already carry their content keys.
  for (const [name, path] of guestFiles(src.guest)) {
    const st = await stat(path);
    h.update(`${name} ${basename(dirname(path))} ${st.size}`);
  }
  h.update(src.guest.kernelRelease);
  return `${src.version}-${h.digest('hex').slice(0, 12)}`;
}

export interface InstalledPayload {
  dir: string;
  shimPath: string;
  cacheDir: string;
  /** The accelerator verdict file the shim reads (its probe's cache). */
  verdictFile: string;
}

export const installedPayload = (dir: string): InstalledPayload => ({
  dir, shimPath: join(dir, 'bin', SHIM_WRAPPER), cacheDir: join(dir, 'cache'), verdictFile: join(dir, 'cache', 'probe', 'accelerator.json'),
});

/** The wrapper: the shim's roots stay Sandpod's defaults; the guest image and probe verdict are the install's. */
export function wrapperScript(p: InstalledPayload, node: string, accel: 'auto' | 'kvm' | 'tcg'): string {
  return [
    '#!/bin/sh',
    '# containerd runtime v2 shim for VM pods (runtime type io.containerd.sandpod.v2), installed by `sandpod node install`.',
    `export SANDPOD_CACHE_DIR=${JSON.stringify(p.cacheDir)}`,
    // auto: the probe's verdict in cache/probe (made at install, made again after a host kernel or QEMU upgrade).
    ...(accel === 'auto' ? [] : [`export SANDPOD_ACCEL=${accel}`]),
    `exec ${JSON.stringify(node)} ${JSON.stringify(join(p.dir, 'lib', 'shim', SHIM_BUNDLE))} "$@"`,
    '',
  ].join('\n');
}

const complete = z.object({ version: z.string(), files: z.array(z.string()) });
const MARKER = '.complete.json';

/** Whether `dir` holds a complete payload of `version` (written last, so a half copy never counts). */
export async function payloadComplete(dir: string, version: string): Promise<boolean> {
  const text = await readFile(join(dir, MARKER), 'utf8').catch(() => undefined);
  if (!text) return false;
  const parsed = complete.safeParse(JSON.parse(text));
  return parsed.success && parsed.data.version === version;
}

/**
 * Copies the payload into `dir` (through a temporary sibling renamed into place), with the wrapper for
 * `node` and the accelerator choice. A complete directory of the same version is kept (its wrapper
 * rewritten if it differs). Returns whether anything was written.
 */
export async function writePayload(src: PayloadSource, dir: string, version: string, node: string, accel: 'auto' | 'kvm' | 'tcg'): Promise<{ payload: InstalledPayload; written: boolean }> {
  const p = installedPayload(dir);
  const wrapper = wrapperScript(p, node, accel);
  if (await payloadComplete(dir, version)) {
    if ((await readFile(p.shimPath, 'utf8').catch(() => '')) === wrapper) return { payload: p, written: false };
    await writeFile(p.shimPath, wrapper);
    return { payload: p, written: true };
  }
  const tmp = `${dir}.partial`;
  await rm(tmp, { recursive: true, force: true });
  const staged = installedPayload(tmp);
  const files: string[] = [];
  for (const f of await shimFiles(src.shimDir)) {
    await mkdir(dirname(join(tmp, 'lib', f)), { recursive: true });
    await copyFile(join(src.shimDir, f), join(tmp, 'lib', f));
    files.push(`lib/${f}`);
  }
  const guestDir = join(tmp, 'cache', 'guest');
  await mkdir(guestDir, { recursive: true });
  for (const [name, path] of guestFiles(src.guest)) {
    await copyFile(path, join(guestDir, name));
    files.push(`cache/guest/${name}`);
  }
  // The shim reads the image it boots from this file (src/sandbox/current-image.ts), under its final path.
  const finalGuest = join(p.cacheDir, 'guest');
  await writeFile(join(guestDir, CURRENT_IMAGE_FILE), JSON.stringify({
    kernelRelease: src.guest.kernelRelease, vmlinux: join(finalGuest, 'vmlinux'), initramfs: join(finalGuest, 'initramfs.cpio'), runtimeImage: join(finalGuest, 'runtime.sqfs'),
  }));
  await mkdir(join(tmp, 'bin'), { recursive: true });
  await writeFile(staged.shimPath, wrapper);
  await chmod(staged.shimPath, 0o755);
  files.push('bin/containerd-shim-sandpod-v2', `cache/guest/${CURRENT_IMAGE_FILE}`);
  await writeFile(join(tmp, MARKER), JSON.stringify({ version, files }));
  await rm(dir, { recursive: true, force: true });
  await mkdir(dirname(dir), { recursive: true });
  await rename(tmp, dir).catch((err: unknown) => { throw failedPrecondition(`payload/${version}`, `cannot put the payload in ${dir}`, err); });
  return { payload: p, written: true };
}

/** A payload directory made earlier (`--from DIR`: the one the installer image holds) as an install's source. */
export async function payloadFrom(dir: string): Promise<PayloadSource> {
  const g = join(dir, 'cache', 'guest');
  const notPayload = (err: unknown): never => { throw notFound('payload', `${dir} is not a complete Sandpod payload`, err); };
  const named = JSON.parse(await readFile(join(g, CURRENT_IMAGE_FILE), 'utf8').catch(notPayload)) as { kernelRelease: string };
  const marker = complete.parse(JSON.parse(await readFile(join(dir, MARKER), 'utf8').catch(notPayload)));
  return {
    shimDir: join(dir, 'lib'), version: marker.version.replace(/-[0-9a-f]{12}$/, ''), exactVersion: marker.version,
    guest: { kernelRelease: named.kernelRelease, vmlinux: join(g, 'vmlinux'), initramfs: join(g, 'initramfs.cpio'), runtimeImage: join(g, 'runtime.sqfs') },
  };
}
