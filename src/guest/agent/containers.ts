/**
 * The containers of a pod inside its VM: each has a root below the 9p share, made a mount of its own (so it
 * can be read-only and everything below it goes with it) and ready with /proc, /sys and /dev; the mounts
 * its spec asks of the guest (pod memory volumes, writable volumes under a read-only root); a cgroup with its
 * limits; and, once its first process runs, namespaces later processes join.
 */
import { mkdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { posix } from 'node:path';
import { SandpodError } from '../../errors.js';
import type { ContainerLimits, ContainerSpec, ContainerStats, GuestMount } from '../../protocol/index.js';
import { runCommands } from './commands.js';
import { applySysctls } from './sysctls.js';
import { MemoryVolumes, type MemoryMount } from './volumes.js';
import { CGROUP_ROOT, GUEST_DEVICE_NODES, PREPARE_ROOT_SCRIPT, SANDBOX_ROOT } from '../layout.js';

export interface Container {
  id: string;
  root: string;
  cgroup: string;
  /** The sandpod-spawn holding the container's namespaces, while its first process runs. */
  initPid?: number;
  /** The container's seccomp filter, which every process of it loads before exec (sandpod-spawn --seccomp). */
  seccomp?: { file: string; flags: number };
  /** Paths its first process masks and makes read-only in the container's mount namespace (after its own /proc). */
  maskedPaths: string[];
  readonlyPaths: string[];
}

/** Where the agent keeps containers' compiled seccomp filters (out of every container's reach). */
const SECCOMP_DIR = '/run/sandbox/seccomp';

async function setLimits(c: Container, l: ContainerLimits): Promise<void> {
  const limits: [string, string | undefined][] = [
    ['memory.max', l.memoryBytes?.toString()],
    ['memory.swap.max', l.memoryBytes ? '0' : undefined],
    ['cpu.max', l.cpuQuotaUs ? `${l.cpuQuotaUs} ${l.cpuPeriodUs ?? 100000}` : undefined],
    ['pids.max', l.pidsMax?.toString()],
  ];
  for (const [file, value] of limits) {
    if (value !== undefined) await writeFile(posix.join(c.cgroup, file), value).catch((err: Error) => {
      if (file !== 'memory.swap.max') throw new SandpodError('Invalid', `container ${c.id}: cannot set ${file} to ${value}: ${err.message}`);
    });
  }
}

/** Lazily detaches a container's root mount, and with it every mount below it. */
/** Where a container's own /dev (as it came over 9p) is kept in view while its /dev tmpfs is made. */
const DEV_VIEWS = '/run/sandbox/dev-views';
/**
 * `bind-dev SOURCE TARGET`: binds a host file or directory that came over 9p onto the container's /dev tmpfs,
 * making the mount point (a file for a file) first.
 */
const BIND_DEV_ENTRY = 'set -e; if [ -d "$1" ]; then mkdir -p "$2"; else mkdir -p "${2%/*}"; [ -e "$2" ] || : > "$2"; fi; mount -o bind "$1" "$2"';

const detachRoot = (root: string): Promise<void> => runCommands([['sh', '-c', 'umount -l "$1" 2>/dev/null || true', 'umount', root]]);

export class Containers {
  private readonly byId = new Map<string, Container>();

  constructor(private readonly volumes = new MemoryVolumes()) {}

  get(id: string): Container {
    const c = this.byId.get(id);
    if (!c) throw new SandpodError('NotFound', `container ${id} does not exist in this sandbox`);
    return c;
  }

  all(): IterableIterator<Container> { return this.byId.values(); }

  async create(spec: ContainerSpec): Promise<Container> {
    if (this.byId.has(spec.id)) throw new SandpodError('AlreadyExists', `container ${spec.id} already exists`);
    const root = posix.join(SANDBOX_ROOT, spec.root);
    const c: Container = {
      id: spec.id, root, cgroup: posix.join(CGROUP_ROOT, `ctr-${spec.id}`), maskedPaths: spec.maskedPaths ?? [], readonlyPaths: spec.readonlyPaths ?? [],
    };
    if (spec.sysctls) await applySysctls(spec.sysctls);
    const mounts = spec.mounts ?? [];
    const sources = new Map<MemoryMount, { path: string; close(): Promise<void> }>();
    const at = (destination: string): string => posix.join(root, destination);
    try {
      for (const m of mounts) if (m.kind === 'memory') sources.set(m, await this.volumes.open(m));
      // Host files bound below the root's /dev came over 9p; the /dev tmpfs will cover them: keep a view first.
      const devView = mounts.some((m) => m.kind === 'dev') ? posix.join(DEV_VIEWS, spec.id) : undefined;
      const mount = (m: GuestMount): string[][] => {
        switch (m.kind) {
          case 'writable': return [['mount', '-o', 'bind', at(m.destination), at(m.destination)]];
          case 'memory': return [['mount', '-o', 'bind', sources.get(m)?.path ?? '', at(m.destination)], ...(m.readonly ? [['mount', '-o', 'remount,bind,ro', at(m.destination)]] : [])];
          case 'dev': return [
            ['sh', '-c', BIND_DEV_ENTRY, 'bind-dev', posix.join(devView ?? '', m.destination.slice('/dev/'.length)), at(m.destination)],
            ...(m.readonly ? [['mount', '-o', 'remount,bind,ro', at(m.destination)]] : []),
          ];
        }
      };
      await runCommands([
        ['mount', '-o', 'bind', root, root],
        ...(devView ? [['mkdir', '-p', devView], ['mount', '-o', 'bind', at('/dev'), devView]] : []),
        ['sh', PREPARE_ROOT_SCRIPT, root, ...(spec.writableSysfs ? ['--sys-rw'] : []), ...(spec.devices ?? []).map((d) => GUEST_DEVICE_NODES[d])],
        ...mounts.flatMap(mount),
        ...(devView ? [['umount', '-l', devView], ['rmdir', devView]] : []),
        ...(spec.readonlyRoot ? [['mount', '-o', 'remount,bind,ro', root]] : []),
      ]);
      for (const m of sources.keys()) await this.volumes.verify(m, at(m.destination));
      await mkdir(c.cgroup);
      await setLimits(c, spec);
      if (spec.seccomp) {
        await mkdir(SECCOMP_DIR, { recursive: true, mode: 0o700 });
        c.seccomp = { file: posix.join(SECCOMP_DIR, `${spec.id}.bpf`), flags: spec.seccomp.flags };
        await writeFile(c.seccomp.file, Buffer.from(spec.seccomp.program, 'base64'), { mode: 0o600 });
      }
    } catch (err) {
      await detachRoot(root);
      await rmdir(c.cgroup).catch(() => undefined);
      if (c.seccomp) await rm(c.seccomp.file, { force: true });
      throw err;
    } finally {
      for (const source of sources.values()) await source.close();
    }
    this.byId.set(spec.id, c);
    return c;
  }

  /** New limits for a container's cgroup (CRI's UpdateContainerResources). */
  update(id: string, limits: ContainerLimits): Promise<void> { return setLimits(this.get(id), limits); }

  /** Kills whatever still runs in the container, detaches its root (and all mounted below) and removes the cgroup. */
  async remove(id: string): Promise<void> {
    const c = this.get(id);
    await writeFile(posix.join(c.cgroup, 'cgroup.kill'), '1').catch(() => undefined);
    for (let i = 0; i < 100; i++) {
      const procs = await readFile(posix.join(c.cgroup, 'cgroup.procs'), 'utf8').catch(() => '');
      if (procs.trim() === '') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    await detachRoot(c.root);
    if (c.seccomp) await rm(c.seccomp.file, { force: true });
    await rmdir(c.cgroup).catch((err: Error) => { throw new SandpodError('Internal', `container ${id}: cannot remove its cgroup: ${err.message}`); });
    this.byId.delete(id);
  }

  /** The counters of the container's cgroup: CPU time in microseconds, memory in bytes, processes, OOM kills. */
  async stats(id: string): Promise<ContainerStats> {
    const c = this.get(id);
    const read = (f: string): Promise<string> => readFile(posix.join(c.cgroup, f), 'utf8').catch(() => '');
    const [cpu, events] = [await read('cpu.stat'), await read('memory.events')];
    const field = (text: string, key: string): number => Number(new RegExp(`^${key} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
    const value = async (f: string): Promise<number | undefined> => {
      const v = (await read(f)).trim();
      return /^\d+$/.test(v) ? Number(v) : undefined;
    };
    const [memoryLimitBytes, pidsLimit] = [await value('memory.max'), await value('pids.max')];
    return {
      cpuUsageUs: field(cpu, 'usage_usec'), cpuUserUs: field(cpu, 'user_usec'), cpuSystemUs: field(cpu, 'system_usec'),
      memoryBytes: (await value('memory.current')) ?? 0, ...(memoryLimitBytes !== undefined ? { memoryLimitBytes } : {}),
      pids: (await value('pids.current')) ?? 0, ...(pidsLimit !== undefined ? { pidsLimit } : {}),
      oomKills: field(events, 'oom_kill'),
    };
  }
}
