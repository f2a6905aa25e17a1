/**
 * Files the runtime left behind when it was killed at the wrong moment, which nothing looks at again:
 *
 * - **Pod network namespace files.** containerd's CRI (with `netns_mounts_under_state_dir`) makes a pod's namespace
 *   as a file `<CRI state>/netns/cni-<uuid>` with the namespace bind-mounted on it; killed between making the file
 *   and mounting it, or between unmounting and removing it, it leaves the empty file. One not mounted is stale. The
 *   host's /run/netns, which CRI uses without that option and which holds other users' namespaces, is never looked at.
 * - **Task bundles.** `<containerd state>/io.containerd.runtime.v2.task/k8s.io/<id>` holds a task's spec and work
 *   link while its shim runs there. One whose id CRI knows as neither a sandbox nor a container, in which no process
 *   runs (a shim's working directory is its bundle), is stale: containerd would remove it only on its next start.
 *
 * - **runc container states.** `<runc root>/k8s.io/<id>` of a container runc created and never started (its
 *   `exec.fifo`), whose lost shim was ended with no `runc init` left: an id CRI does not know, whose init is gone.
 *
 * Each is removed once it has looked stale for ORPHAN_MS over two looks, and is looked at once more just before.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, readlink, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import type { CriClient } from '../cri/index.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import { mountPoints } from '../mounts.js';
import { Lingering, Periodic } from './lingering.js';
import { ORPHAN_CHECK_MS, ORPHAN_MS, removeBundle, runcDelete } from './orphan-shims.js';

/** The part of CRI's verbose status (`info.config`, containerd's CRI plugin config) this needs. */
const CriConfig = z.object({
  stateDir: z.string().min(1), netnsMountsUnderStateDir: z.boolean().optional(),
  containerd: z.object({ runtimes: z.record(z.string(), z.object({ options: z.record(z.string(), z.unknown()).nullish() }).passthrough()).optional() }).passthrough().optional(),
});

/** runc's state root when the runc handler names none. */
const RUNC_DEFAULT_ROOT = '/run/containerd/runc';

export interface RuntimeDirs {
  /** CRI's own netns directory, when it has one. */
  netns?: string;
  /** The task bundles of CRI's namespace. */
  bundles: string;
  /** runc's container states of CRI's namespace (the runc handler's Root). */
  runc: string;
}

/** Where CRI keeps its pods' network namespaces and the runtime its task bundles, from CRI's verbose status. */
export function runtimeDirs(statusInfo: Record<string, string>): RuntimeDirs | undefined {
  const raw = statusInfo['config'];
  if (raw === undefined) return undefined;
  const config = CriConfig.safeParse(JSON.parse(raw));
  if (!config.success) return undefined;
  const { stateDir, netnsMountsUnderStateDir, containerd } = config.data;
  const root = containerd?.runtimes?.['runc']?.options?.['Root'];
  return {
    ...(netnsMountsUnderStateDir ? { netns: join(stateDir, 'netns') } : {}),
    bundles: join(dirname(stateDir), 'io.containerd.runtime.v2.task', 'k8s.io'),
    runc: join(typeof root === 'string' && root !== '' ? root : RUNC_DEFAULT_ROOT, 'k8s.io'),
  };
}

/** One kind of stale file: what may be stale now, and how to remove one. */
export interface StaleKind {
  /** How logs name it. */
  what: string;
  /** The paths that look stale now. */
  candidates(): Promise<string[]>;
  remove(path: string): Promise<void>;
}

export class StaleFiles {
  private readonly suspects = new Lingering<true>(ORPHAN_MS);
  private readonly periodic: Periodic;

  constructor(private readonly kinds: readonly StaleKind[], private readonly now: () => number, private readonly log: Logger) {
    this.periodic = new Periodic(() => this.check(), 'look for stale runtime files', log);
  }

  start(intervalMs = ORPHAN_CHECK_MS): void {
    this.periodic.start(intervalMs);
  }

  stop(): Promise<void> {
    return this.periodic.stop();
  }

  /** Looks once; removes what has looked stale for ORPHAN_MS over two looks and still does. Returns the paths. */
  async check(): Promise<string[]> {
    const found = new Map<string, StaleKind>();
    for (const kind of this.kinds) for (const path of await kind.candidates()) found.set(path, kind);
    const removed: string[] = [];
    for (const [path] of this.suspects.look(new Map([...found.keys()].map((p) => [p, true as const])), this.now())) {
      const kind = found.get(path)!;
      // Looked at once more: a sandbox being made right now may have mounted or started in it since.
      if (!(await kind.candidates()).includes(path)) continue;
      try {
        await kind.remove(path);
        removed.push(path);
        this.suspects.forget(path);
        this.log.warn(`removed ${kind.what} the runtime left (containerd stopped at the wrong moment)`, { path });
      } catch (err) {
        this.log.warn(`cannot remove ${kind.what}; will try again`, { path, err: describeError(err) });
      }
    }
    return removed;
  }
}

const entries = (dir: string): Promise<string[]> =>
  readdir(dir).catch((err: NodeJS.ErrnoException) => { if (err.code === 'ENOENT') return []; throw err; });

/** Every working directory of this host's processes. */
async function workingDirectories(): Promise<string[]> {
  const out: string[] = [];
  for (const p of await entries('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    const cwd = await readlink(`/proc/${p}/cwd`).catch(() => undefined);
    if (cwd !== undefined) out.push(cwd);
  }
  return out;
}

/** The two kinds over a real CRI and this host. */
export function staleRuntimeFiles(cri: CriClient, log: Logger): StaleFiles {
  // Fixed for the runtime's life: asked once it answers.
  let known: RuntimeDirs | undefined;
  const dirs = async (): Promise<RuntimeDirs | undefined> => (known ??= runtimeDirs((await cri.status({ verbose: true })).info));
  /** The entries of `dir` named by an id CRI knows as neither a sandbox nor a container. */
  const unknownToCri = async (dir: string | undefined): Promise<string[]> => {
    const names = dir === undefined ? [] : await entries(dir);
    if (dir === undefined || names.length === 0) return [];
    const [sandboxes, containers] = await Promise.all([cri.listPodSandbox({}), cri.listContainers({})]);
    const known = new Set([...sandboxes.items.map((s) => s.id), ...containers.containers.map((c) => c.id)]);
    return names.filter((n) => !known.has(n)).map((n) => join(dir, n));
  };
  const netns: StaleKind = {
    what: 'a pod network namespace file',
    candidates: async () => {
      const dir = (await dirs())?.netns;
      if (dir === undefined) return [];
      const mounted = new Set(await mountPoints());
      return (await entries(dir)).filter((n) => n.startsWith('cni-')).map((n) => join(dir, n)).filter((p) => !mounted.has(p));
    },
    remove: (path) => rm(path, { force: true }),
  };
  const bundles: StaleKind = {
    what: 'a task bundle',
    candidates: async () => {
      const unknown = await unknownToCri((await dirs())?.bundles);
      if (unknown.length === 0) return [];
      const busy = await workingDirectories();
      return unknown.filter((p) => !busy.some((cwd) => cwd === p || cwd.startsWith(`${p}/`) || cwd === `${p} (deleted)`));
    },
    remove: (path) => removeBundle(path, `bundle/${basename(path)}`),
  };
  // A container runc created and never started keeps its state (exec.fifo) until `runc delete`; its lost shim ended
  // (orphan-shims.ts) with no `runc init` left to name it, nothing else deletes it.
  const runcStates: StaleKind = {
    what: 'a runc container state',
    candidates: async () => {
      const out: string[] = [];
      for (const path of await unknownToCri((await dirs())?.runc)) {
        const pid = await readFile(join(path, 'state.json'), 'utf8').then((t) => (JSON.parse(t) as { init_process_pid?: number }).init_process_pid, () => undefined);
        if (pid === undefined || !existsSync(`/proc/${pid}`)) out.push(path);
      }
      return out;
    },
    remove: async (path) => {
      await runcDelete(path, `runc/${basename(path)}`);
      await rm(path, { recursive: true, force: true });
    },
  };
  return new StaleFiles([netns, bundles, runcStates], Date.now, log);
}
