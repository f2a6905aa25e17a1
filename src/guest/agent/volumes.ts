/**
 * A pod's memory volumes (memory-backed emptyDir): one tmpfs per volume in the guest, mounted the first time
 * a container uses it and kept until the VM ends, so every container of the pod sees the same files and
 * nothing reaches the host. Containers get binds of the volume, or of a directory below it (subPath).
 *
 * The volume's contents belong to containers that may already run, so a subPath is made through real
 * directories only, one descriptor at a time (a symlink there could point anywhere in the agent's view), and
 * each bind is checked afterwards in /proc/self/mountinfo to show that very directory of that very tmpfs.
 */
import { mkdir, open, readFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import { posix } from 'node:path';
import { SandpodError } from '../../errors.js';
import type { GuestMount } from '../../protocol/index.js';
import { runCommands } from './commands.js';

export type MemoryMount = Extract<GuestMount, { kind: 'memory' }>;

/** Where the volumes' tmpfs mounts live: the agent's own /run, out of every container's reach. */
export const VOLUMES_DIR = '/run/volumes';

import { mountEntries, type MountEntry } from '../../mounts.js';

/** The mount on top at `path`, if any. */
export const mountAt = (entries: MountEntry[], path: string): MountEntry | undefined => entries.filter((e) => e.mountPoint === path).at(-1);

export class MemoryVolumes {
  private readonly mounted = new Map<string, string>();

  constructor(private readonly dir = VOLUMES_DIR) {}

  /** The volume's tmpfs, mounted now if this is its first use in the pod. */
  async volume(m: MemoryMount): Promise<string> {
    const known = this.mounted.get(m.volume);
    if (known) return known;
    const path = posix.join(this.dir, m.volume);
    // No limit: the VM's memory bounds it (tmpfs alone would stop at half of it).
    const size = m.sizeBytes > 0 ? String(m.sizeBytes) : '100%';
    await runCommands([['mkdir', '-p', path], ['mount', '-t', 'tmpfs', '-o', `size=${size},mode=0777,nosuid,nodev`, `volume-${m.volume}`, path]]);
    this.mounted.set(m.volume, path);
    return path;
  }

  /**
   * What to bind for `m`: the volume, or its subPath, made (0777, as emptyDir is) where missing. Walked one
   * directory descriptor at a time, never by a path a container could change meanwhile; the bind source is
   * the last descriptor (`/proc/<agent>/fd/N`), open until `close`.
   */
  async open(m: MemoryMount): Promise<{ path: string; close(): Promise<void> }> {
    const flags = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;
    let dir = await open(await this.volume(m), flags);
    try {
      for (const part of (m.subPath ?? '').split('/').filter(Boolean)) {
        const at = `/proc/self/fd/${dir.fd}/${part}`;
        const made = await mkdir(at).then(() => true, (err: NodeJS.ErrnoException) => { if (err.code === 'EEXIST') return false; throw err; });
        const next = await open(at, flags).catch((err: NodeJS.ErrnoException) => {
          throw new SandpodError('Invalid', `subPath ${m.subPath} of memory volume ${m.volume}: ${part} is not a directory (${err.code}); a container put something else there`);
        });
        await dir.close();
        dir = next;
        if (made) await dir.chmod(0o777);
      }
    } catch (err) {
      await dir.close();
      throw err;
    }
    const held = dir;
    return { path: `/proc/${process.pid}/fd/${held.fd}`, close: () => held.close() };
  }

  /** Checks that the bind at `target` shows the volume's tmpfs at `m`'s subPath, nothing else. */
  async verify(m: MemoryMount, target: string): Promise<void> {
    const entries = mountEntries(await readFile('/proc/self/mountinfo', 'utf8'));
    const volume = mountAt(entries, posix.join(this.dir, m.volume));
    const bound = mountAt(entries, target);
    const want = `/${m.subPath ?? ''}`.replace(/\/+$/, '') || '/';
    if (!volume || !bound || bound.device !== volume.device || bound.root !== want) {
      throw new SandpodError('Invalid', `memory volume ${m.volume}${m.subPath ? ` (subPath ${m.subPath})` : ''} could not be bound at ${m.destination}: the directory changed while it was mounted`);
    }
  }
}
