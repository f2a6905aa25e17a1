/**
 * The runtime image: a read-only squashfs with Node and its shared libraries, and the kernel modules the
 * guest loads on demand with their tables (modules.ts), attached to the guest as a virtio-blk disk.
 * Uncompressed, so the guest reads pages straight from the page cache; a module costs guest memory only
 * once it is loaded.
 */
import { copyFile, mkdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { runTool } from '../../run-tool.js';
import { RUNTIME_LD_SO, RUNTIME_LIB_PATH, RUNTIME_MODULES_DIR, RUNTIME_MOUNT, RUNTIME_NODE } from '../layout.js';
import { writeOnDemandModules } from './modules.js';

export interface RuntimeInputs {
  node: string;
  /** The guest kernel's modules: name → file (kernel.ts indexModules), and the release's `kernel/` directory. */
  modules: { index: Map<string, string>; kernelDir: string };
}

/** Shared libraries a dynamically linked binary needs, from ldd. */
export async function sharedLibraries(binary: string): Promise<{ libs: string[]; loader: string | undefined }> {
  const out = (await runTool('guest-runtime', 'ldd', [binary])).toString();
  const libs: string[] = [];
  let loader: string | undefined;
  for (const line of out.split('\n')) {
    const arrow = /=>\s+(\/\S+)/.exec(line);
    if (arrow?.[1]) libs.push(arrow[1]);
    else if (/^\s*\/\S+ld-linux\S*/.test(line)) loader = line.trim().split(/\s+/)[0];
  }
  return { libs, loader };
}

const inRoot = (root: string, guestPath: string): string => join(root, guestPath.slice(RUNTIME_MOUNT.length));

export async function buildRuntimeImage(inputs: RuntimeInputs, out: string, workDir: string): Promise<void> {
  const root = join(workDir, 'rt');
  await mkdir(inRoot(root, RUNTIME_LIB_PATH), { recursive: true });
  await mkdir(join(root, 'bin'), { recursive: true });
  await mkdir(join(root, 'lib64'), { recursive: true });
  await copyFile(inputs.node, inRoot(root, RUNTIME_NODE));
  const seen = new Set<string>();
  for (const bin of [inputs.node]) {
    const { libs, loader } = await sharedLibraries(bin);
    for (const lib of libs) {
      if (seen.has(lib)) continue;
      seen.add(lib);
      await copyFile(lib, join(inRoot(root, RUNTIME_LIB_PATH), basename(lib)));
    }
    if (loader) await copyFile(loader, inRoot(root, RUNTIME_LD_SO));
  }
  await writeOnDemandModules(inputs.modules.index, inputs.modules.kernelDir, inRoot(root, RUNTIME_MODULES_DIR));
  await runTool('guest-runtime', 'mksquashfs', [root, out, '-noappend', '-noI', '-noD', '-noF', '-noX', '-no-xattrs', '-all-root', '-quiet', '-no-progress']);
}
