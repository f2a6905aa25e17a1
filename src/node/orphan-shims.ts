/**
 * Shims containerd started for a pod sandbox and then forgot. When containerd is killed between starting a
 * sandbox's runc shim and creating its task, the restarted containerd (1.6) neither lists the sandbox in CRI nor
 * stops the shim: `containerd-shim-runc-v2` waits for a Create that never comes, for ever, with its bundle. The
 * node agent ends such a shim once it has looked orphaned for ORPHAN_MS: a shim daemon of this node's containerd,
 * made for a CRI sandbox (its bundle's OCI annotations say so), with no container created (no `init.pid`), whose
 * sandbox CRI does not know; or one whose bundle containerd has already removed (a restarted containerd cleans up
 * a task it lost that way, and leaves the shim running), whatever it was made for, whose id CRI does not know. It
 * is killed by PID with what it left running, and its bundle and work directory removed, as containerd would on
 * its next start. Sandpod's own shim ends itself when it serves nothing (src/shim/manager.ts), but not when its
 * containerd was killed while it made the pod's VM: one whose pod CRI does not know is sent SIGTERM (it stops its
 * VMs and exits). Only shims in CRI's namespace (k8s.io) are looked at.
 */
import { readFile, readlink, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import { unmountBelow } from '../mounts.js';
import { flagValue, groupOfShimDaemon, processCommandLines } from '../pod-vm-identity.js';
import { processTable } from '../process-table.js';
import { runTool } from '../run-tool.js';
import { waitUntil } from '../wait.js';
import { Lingering, Periodic } from './lingering.js';

/** The containerd namespace CRI keeps its pods in. */
const CRI_NAMESPACE = 'k8s.io';

/** How long a shim must look orphaned, over two looks at least, before it is ended. */
export const ORPHAN_MS = 60_000;
/** How often the node looks. */
export const ORPHAN_CHECK_MS = 30_000;

/** A shim daemon of one containerd that may have been lost: the sweep ends it if CRI does not know its id for ORPHAN_MS. */
export interface IdleShim {
  pid: number;
  id: string;
  bundle: string;
  /** Sandpod's own shim daemon (its id is the pod's sandbox id): ended with SIGTERM, which stops its VMs first. */
  sandpod?: boolean;
}

/** The upstream shim daemon (`containerd-shim-<runtime>-v2 -namespace … -id … -address …`) a command line runs, if any. */
export function upstreamShimDaemon(argv: readonly string[]): { id: string; address: string } | undefined {
  const binary = basename(argv[0] ?? '');
  if (!binary.startsWith('containerd-shim-') || binary === 'containerd-shim-sandpod-v2') return undefined;
  const flags = argv.slice(1);
  if (flags.includes('start') || flags.includes('delete')) return undefined;
  const id = flagValue(flags, 'id');
  const address = flagValue(flags, 'address')?.replace(/^unix:\/\//, '');
  return id && address ? { id, address } : undefined;
}

/** The path a process's working directory had, if that directory has been removed (the kernel marks the link). */
export function removedDirectory(cwdLink: string): string | undefined {
  return cwdLink.endsWith(' (deleted)') ? cwdLink.slice(0, -' (deleted)'.length) : undefined;
}

const exists = (p: string): Promise<boolean> => stat(p).then(() => true, () => false);

/**
 * The shims of the containerd at `criSocket` (CRI's namespace) that may have been lost: upstream shims made for a
 * CRI sandbox holding no container yet, upstream shims whose bundle is gone, and every Sandpod shim daemon (it has
 * no bundle of its own to judge by: `bundle` is empty).
 */
export async function idleSandboxShims(criSocket: string): Promise<IdleShim[]> {
  const out: IdleShim[] = [];
  for (const p of await processCommandLines()) {
    // Only CRI's own shims: a task someone made with `ctr` in another namespace is none of CRI's business.
    if (flagValue(p.argv, 'namespace') !== CRI_NAMESPACE) continue;
    const group = groupOfShimDaemon(p.argv);
    if (group !== undefined) {
      // Sandpod's daemon leaves when containerd shuts it down; a containerd killed while the pod was being made
      // never does, and the restarted one does not know the pod.
      const address = flagValue(p.argv, 'address')?.replace(/^unix:\/\//, '');
      if (address === criSocket) out.push({ pid: p.pid, id: group, bundle: '', sandpod: true });
      continue;
    }
    const shim = upstreamShimDaemon(p.argv);
    if (!shim || shim.address !== criSocket) continue;
    try {
      // A shim runs in its bundle (containerd starts it there).
      const cwd = await readlink(`/proc/${p.pid}/cwd`);
      const gone = removedDirectory(cwd);
      if (gone !== undefined) {
        // containerd removed the bundle (its restart cleans up tasks it lost) and left the shim serving nothing.
        out.push({ pid: p.pid, id: shim.id, bundle: gone });
        continue;
      }
      const bundle = cwd;
      const spec = JSON.parse(await readFile(join(bundle, 'config.json'), 'utf8')) as { annotations?: Record<string, string> };
      if (spec.annotations?.['io.kubernetes.cri.container-type'] !== 'sandbox') continue;
      if (await exists(join(bundle, 'init.pid'))) continue;
      out.push({ pid: p.pid, id: shim.id, bundle });
    } catch {
      // Gone while we looked, or not a bundle we understand: not ours to judge.
    }
  }
  return out;
}

export interface OrphanShimDeps {
  idleShims(): Promise<IdleShim[]>;
  /** Every sandbox id CRI knows, whatever its state. */
  sandboxIds(): Promise<Set<string>>;
  /** Ends the shim and removes what it leaves. */
  end(shim: IdleShim): Promise<void>;
  now(): number;
  log: Logger;
}

export class OrphanShims {
  /** Shims that looked orphaned, by PID, with the sandbox id they serve. */
  private readonly suspects = new Lingering<string>(ORPHAN_MS);
  private readonly periodic: Periodic;

  constructor(private readonly d: OrphanShimDeps) {
    this.periodic = new Periodic(() => this.check(), 'look for lost shims', d.log);
  }

  /** Looks every ORPHAN_CHECK_MS until stopped. */
  start(intervalMs = ORPHAN_CHECK_MS): void {
    this.periodic.start(intervalMs);
  }

  stop(): Promise<void> {
    return this.periodic.stop();
  }

  /** Looks once; ends the shims that have looked orphaned for ORPHAN_MS. Returns their PIDs. */
  async check(): Promise<number[]> {
    // Shims first, sandboxes second: a sandbox CRI records between the two looks is then known.
    const shims = await this.d.idleShims();
    const known = await this.d.sandboxIds();
    const orphans = new Map(shims.filter((s) => !known.has(s.id)).map((s) => [String(s.pid), s]));
    const due = this.suspects.look(new Map([...orphans].map(([pid, s]) => [pid, s.id])), this.d.now());
    const ended: number[] = [];
    for (const [pid] of due) {
      const shim = orphans.get(pid)!;
      this.d.log.warn('ending a shim containerd started for a sandbox and lost (containerd stopped while starting it); CRI does not know the sandbox and nothing runs in it',
        { sandbox: shim.id, pid: shim.pid, bundle: shim.bundle });
      try {
        await this.d.end(shim);
        ended.push(shim.pid);
      } catch (err) {
        this.d.log.warn('cannot end the lost shim; will try again', { sandbox: shim.id, pid: shim.pid, err: describeError(err) });
        continue;
      }
      this.suspects.forget(pid);
    }
    return ended;
  }
}

/** The runc state directory a `runc init` process names in its environment (a container created, never started). */
export function runcStateDir(environ: string): string | undefined {
  return environ.split('\0').find((v) => v.startsWith('_LIBCONTAINER_STATEDIR='))?.slice('_LIBCONTAINER_STATEDIR='.length) || undefined;
}

/**
 * SIGKILL by PID, with what it left running: a `runc init` of a container it created and never started (a lost
 * shim's bundle may be gone while runc's state and cgroup stay) is deleted through runc, any other child killed.
 * Then its bundle and work directory, unmounting anything below first.
 */
export async function endShim(shim: IdleShim): Promise<void> {
  const cmdline = await readFile(`/proc/${shim.pid}/cmdline`, 'utf8').catch(() => '');
  if (shim.sandpod) {
    if (!cmdline.includes(`\0${shim.id}\0`)) return;
    try { process.kill(shim.pid, 'SIGTERM'); } catch { return; }
    const gone = await waitUntil(async () => ((await readFile(`/proc/${shim.pid}/cmdline`, 'utf8').catch(() => '')) === cmdline ? undefined : true),
      { timeoutMs: 15_000, onTimeout: () => new Error('still there') }).catch(() => false);
    if (!gone) try { process.kill(shim.pid, 'SIGKILL'); } catch { /* gone */ }
    return;
  }
  if (cmdline.includes(`\0${shim.id}\0`)) {
    const children = processTable().filter((p) => p.ppid === shim.pid).map((p) => p.pid);
    try { process.kill(shim.pid, 'SIGKILL'); } catch { /* already gone */ }
    for (const child of children) {
      const state = runcStateDir(await readFile(`/proc/${child}/environ`, 'utf8').catch(() => ''));
      if (state) await runcDelete(state, `sandbox/${shim.id}`);
      try { process.kill(child, 'SIGKILL'); } catch { /* gone with its container */ }
    }
  }
  await removeBundle(shim.bundle, `sandbox/${shim.id}`);
}

/** `runc delete --force` of the container whose runc state directory this is (its cgroup goes too); errors ignored. */
export async function runcDelete(state: string, object: string): Promise<void> {
  await runTool(object, 'runc', ['--root', dirname(state), 'delete', '--force', basename(state)]).catch(() => undefined);
}

/** A task bundle and the work directory it links to, after unmounting anything below it (as containerd would). */
export async function removeBundle(bundle: string, object: string): Promise<void> {
  const work = await readlink(join(bundle, 'work')).catch(() => undefined);
  await unmountBelow(bundle, object);
  if (work) await rm(work, { recursive: true, force: true });
  await rm(bundle, { recursive: true, force: true });
}
