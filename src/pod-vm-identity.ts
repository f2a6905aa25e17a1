/**
 * How a pod's VM and its shim are known on the host. The shim serves each CRI pod from one daemon started with
 * `-id <pod sandbox id>` and names the pod's VM after `sandboxIdFor(<pod sandbox id>)`; the sandbox runtime runs
 * QEMU with `-name sandpod-<that id>`. The node agent reads the same rules back from command lines to find a VM
 * pod's processes and measure what the VM costs the host. A leaf shared by shim, sandbox and node.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { basename } from 'node:path';

/**
 * A sandbox id for a group id: lowercase, and short, because the VM's sockets live under a directory named
 * by it and a unix socket path has at most 107 bytes. CRI's 64-hex ids keep 24 digits; other long ids keep a
 * readable prefix and a hash.
 */
export function sandboxIdFor(id: string): string {
  const clean = id.toLowerCase().replace(/[^a-z0-9_.-]/g, '-');
  if (clean.length <= 24) return clean;
  return /^[0-9a-f]+$/.test(clean) ? clean.slice(0, 24) : `${clean.slice(0, 15)}-${createHash('sha256').update(id).digest('hex').slice(0, 8)}`;
}

/** QEMU's `-name` for the VM of a sandbox. */
export const vmName = (sandboxId: string): string => `sandpod-${sandboxId}`;

/** A Go-style flag's value in a command line: `-flag value`, `--flag value`, `-flag=value`. */
export function flagValue(argv: readonly string[], flag: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === `-${flag}` || a === `--${flag}`) return argv[i + 1];
    if (a.startsWith(`-${flag}=`) || a.startsWith(`--${flag}=`)) return a.slice(a.indexOf('=') + 1);
  }
  return undefined;
}

/** The sandbox id whose VM this command line runs (QEMU with `-name sandpod-<id>`), if it is a Sandpod VM. */
export function sandboxOfQemu(argv: readonly string[]): string | undefined {
  if (!basename(argv[0] ?? '').startsWith('qemu-system')) return undefined;
  const name = flagValue(argv, 'name');
  return name?.startsWith('sandpod-') ? name.slice('sandpod-'.length) : undefined;
}

/** The containerd (its `-address`) a shim daemon's command line reports to, if it is a shim daemon. */
export function containerdOfShimDaemon(argv: readonly string[]): string | undefined {
  if (groupOfShimDaemon(argv) === undefined) return undefined;
  const entry = argv.findIndex((a) => basename(a) === 'containerd-shim-sandpod-v2' || a.endsWith('/shim/main.js'));
  return flagValue(argv.slice(entry + 1), 'address')?.replace(/^unix:\/\//, '');
}

/** Every process's pid and command line, read from /proc (a process that ends meanwhile is skipped). */
export async function processCommandLines(): Promise<Array<{ pid: number; argv: string[] }>> {
  const out: Array<{ pid: number; argv: string[] }> = [];
  for (const p of await readdir('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    const cmdline = await readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '');
    if (cmdline) out.push({ pid: Number(p), argv: cmdline.split('\0').filter((a, i, all) => a !== '' || i < all.length - 1) });
  }
  return out;
}

/**
 * The group (a CRI pod's sandbox id) a shim daemon's command line serves, if it is one: the shim's entry
 * (`containerd-shim-sandpod-v2` or `…/shim/main.js` under node) serving a `-socket` with no `start`/`delete`
 * action, which are the short-lived invocations containerd makes for every task.
 */
export function groupOfShimDaemon(argv: readonly string[]): string | undefined {
  const entry = argv.findIndex((a) => basename(a) === 'containerd-shim-sandpod-v2' || a.endsWith('/shim/main.js'));
  if (entry < 0) return undefined;
  const flags = argv.slice(entry + 1);
  if (flags.includes('start') || flags.includes('delete') || flagValue(flags, 'socket') === undefined) return undefined;
  return flagValue(flags, 'id');
}
