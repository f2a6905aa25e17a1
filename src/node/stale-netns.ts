/**
 * Network namespace files CRI left behind. containerd's CRI (with `netns_mounts_under_state_dir`) makes a pod's
 * namespace as a file `<state>/netns/cni-<uuid>` with the namespace bind-mounted on it; killed between making the
 * file and mounting it, or between unmounting and removing it, it leaves the empty file, and the restarted
 * containerd never looks at it again. The node agent removes such files once they have stayed unmounted for
 * ORPHAN_MS. A mounted one is always left alone (a pod may use it), and so is the host's /run/netns, which CRI
 * uses without that option and which holds other users' namespaces.
 */
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { CriClient } from '../cri/index.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import { mountPoints } from '../mounts.js';
import { Lingering, Periodic } from './lingering.js';
import { ORPHAN_CHECK_MS, ORPHAN_MS } from './orphan-shims.js';

/** The part of CRI's verbose status (`info.config`, containerd's CRI plugin config) this needs. */
const CriConfig = z.object({ stateDir: z.string().min(1), netnsMountsUnderStateDir: z.boolean().optional() });

/** Where CRI keeps pod network namespaces of its own, or undefined when it uses the host's /run/netns. */
export function criNetnsDir(statusInfo: Record<string, string>): string | undefined {
  const raw = statusInfo['config'];
  if (raw === undefined) return undefined;
  const config = CriConfig.safeParse(JSON.parse(raw));
  return config.success && config.data.netnsMountsUnderStateDir ? join(config.data.stateDir, 'netns') : undefined;
}

export interface StaleNetnsDeps {
  /** CRI's own netns directory, if it has one. */
  netnsDir(): Promise<string | undefined>;
  /** The names in it. */
  list(dir: string): Promise<string[]>;
  mountPoints(): Promise<string[]>;
  remove(path: string): Promise<void>;
  now(): number;
  log: Logger;
}

export class StaleNetnsFiles {
  private readonly unmounted = new Lingering<true>(ORPHAN_MS);
  private readonly periodic: Periodic;

  constructor(private readonly d: StaleNetnsDeps) {
    this.periodic = new Periodic(() => this.check(), 'look for stale network namespace files', d.log);
  }

  start(intervalMs = ORPHAN_CHECK_MS): void {
    this.periodic.start(intervalMs);
  }

  stop(): Promise<void> {
    return this.periodic.stop();
  }

  /** Looks once; removes the files unmounted for ORPHAN_MS over two looks. Returns their paths. */
  async check(): Promise<string[]> {
    const dir = await this.d.netnsDir();
    if (dir === undefined) return [];
    const names = await this.d.list(dir);
    const mounted = new Set(await this.d.mountPoints());
    const candidates = new Map(names.filter((n) => n.startsWith('cni-')).map((n) => join(dir, n)).filter((p) => !mounted.has(p)).map((p) => [p, true as const]));
    const removed: string[] = [];
    for (const [path] of this.unmounted.look(candidates, this.d.now())) {
      // Mounted since the last look (a sandbox being made right now)? Then it is not stale.
      if ((await this.d.mountPoints()).includes(path)) continue;
      try {
        await this.d.remove(path);
        removed.push(path);
        this.unmounted.forget(path);
        this.d.log.warn('removed a pod network namespace file CRI left unmounted (containerd stopped while making or removing a sandbox)', { path });
      } catch (err) {
        this.d.log.warn('cannot remove a stale network namespace file; will try again', { path, err: describeError(err) });
      }
    }
    return removed;
  }
}

/** The sweep over a real CRI and this host's mounts. */
export function staleNetnsFiles(cri: CriClient, log: Logger): StaleNetnsFiles {
  return new StaleNetnsFiles({
    netnsDir: async () => criNetnsDir((await cri.status({ verbose: true })).info),
    list: (dir) => readdir(dir).catch((err: NodeJS.ErrnoException) => { if (err.code === 'ENOENT') return []; throw err; }),
    mountPoints, remove: (p) => rm(p, { force: true }), now: Date.now, log,
  });
}
