/**
 * Dynamically linked programs in an image: the binary, every shared library `ldd` resolves for it and the
 * program loader, each copied to the same path in the root filesystem, so the program runs there as it does
 * on the host, without LD_LIBRARY_PATH.
 */
import { copyFile, chmod, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { runTool } from '../run-tool.js';

/** The files a program needs from the host: itself, its libraries and the loader (absolute paths). */
export async function programFiles(binary: string): Promise<string[]> {
  const out = (await runTool(`program ${binary}`, 'ldd', [binary])).toString();
  // Lines are `libc.so.6 => /lib/…/libc.so.6 (0x…)` or `/lib64/ld-linux-x86-64.so.2 (0x…)`; vdso has no path.
  const needed = out.split('\n').flatMap((line) => line.split(/\s+/).filter((word) => word.startsWith('/')));
  return [binary, ...new Set(needed)];
}

/** Copies `binary` and what it needs into `rootfs` at the same paths. Returns the host files copied. */
export async function copyProgram(rootfs: string, binary: string): Promise<string[]> {
  const files = await programFiles(binary);
  for (const file of files) {
    const target = join(rootfs, file);
    await mkdir(dirname(target), { recursive: true });
    await copyFile(file, target);
    await chmod(target, 0o755);
  }
  return files;
}
