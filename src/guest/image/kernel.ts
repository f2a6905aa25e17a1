/**
 * The guest kernel: Debian's standard-flavour image that scripts/setup unpacked into the cache.
 * QEMU's microvm boots an uncompressed ELF vmlinux straight through its PVH entry, which skips the
 * in-guest decompression that costs seconds under TCG; so the vmlinux is extracted from the vmlinuz once.
 */
import { open, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { notFound, internal } from '../../errors.js';
import { runTool } from '../../run-tool.js';
import { cachedDir } from './cache.js';

export interface KernelFiles {
  release: string;
  vmlinuz: string;
  modulesDir: string;
  dir: string;
}

export async function findKernel(kernelCache: string): Promise<KernelFiles> {
  const dir = join(kernelCache, 'current');
  let release: string;
  try {
    release = (await readFile(join(dir, 'release'), 'utf8')).trim();
  } catch (err) {
    throw notFound('guest-kernel', `no guest kernel in ${kernelCache}; run scripts/setup to fetch it`, err);
  }
  return { release, vmlinuz: join(dir, 'vmlinuz'), modulesDir: join(dir, 'modules'), dir };
}

const compressors: { magic: Buffer; tool: string; args: string[] }[] = [
  { magic: Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), tool: 'xz', args: ['-dc', '--single-stream'] },
  { magic: Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), tool: 'zstd', args: ['-dc'] },
  { magic: Buffer.from([0x1f, 0x8b, 0x08]), tool: 'gzip', args: ['-dc'] },
];

/** Finds the compressed payload in a bzImage and decompresses it into an ELF vmlinux. */
export async function extractVmlinux(vmlinuz: string, out: string): Promise<void> {
  const image = await readFile(vmlinuz);
  const candidates = compressors
    .map((c) => ({ ...c, at: image.indexOf(c.magic) }))
    .filter((c) => c.at >= 0)
    .sort((a, b) => a.at - b.at);
  for (const c of candidates) {
    const fh = await open(out, 'w');
    try {
      // Trailing bytes after the stream make the tools complain; the output is complete by then.
      await runTool('guest-kernel', c.tool, c.args, { input: image.subarray(c.at), stdoutFile: fh.fd }).catch(() => undefined);
    } finally {
      await fh.close();
    }
    const head = Buffer.alloc(4);
    const fh2 = await open(out, 'r');
    await fh2.read(head, 0, 4, 0);
    await fh2.close();
    if (head.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))) return;
  }
  throw internal('guest-kernel', `could not extract an ELF vmlinux from ${vmlinuz}; is it a bzImage?`);
}

/** The cached vmlinux for a kernel release. */
export async function ensureVmlinux(guestCache: string, kernel: KernelFiles): Promise<string> {
  const { path } = await cachedDir(guestCache, 'vmlinux', kernel.release, (tmp) => extractVmlinux(kernel.vmlinuz, join(tmp, 'vmlinux')));
  return join(path, 'vmlinux');
}

/** Index of module name → file, for the release's module tree. */
export async function indexModules(modulesDir: string): Promise<Map<string, string>> {
  const index = new Map<string, string>();
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else {
        const m = /^(.+)\.ko(\.xz|\.zst)?$/.exec(e.name);
        if (m?.[1]) index.set(m[1].replace(/-/g, '_'), p);
      }
    }
  };
  await walk(join(modulesDir, 'kernel'));
  return index;
}
