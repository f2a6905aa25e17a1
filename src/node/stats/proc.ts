/**
 * What the host's /proc says about the node and about single processes, parsed into plain numbers. Reading
 * goes through `ProcFs`, the one OS seam of the stats module, so tests give it a fake /proc.
 */
import { readdir, readFile } from 'node:fs/promises';
import { internal } from '../../errors.js';

/** Read access to /proc; paths are relative to it ("stat", "1234/cmdline"). */
export interface ProcFs {
  read(path: string): Promise<string>;
  /** The ids of the processes that exist now. */
  pids(): Promise<number[]>;
}

export const hostProcFs: ProcFs = {
  read: (path) => readFile(`/proc/${path}`, 'utf8'),
  pids: async () => (await readdir('/proc')).filter((e) => /^\d+$/.test(e)).map(Number),
};

/** USER_HZ: the unit of /proc's CPU times, fixed at 100 by the kernel's ABI on every Linux architecture Sandpod runs on. */
const USER_HZ = 100;
const NS_PER_TICK = 1e9 / USER_HZ;

export interface HostCpu {
  /** CPU time the host spent busy (all CPUs, everything but idle and iowait) since boot, in core-nanoseconds. */
  busyNs: number;
  /** When the host booted, ms since the epoch. */
  bootTimeMs: number;
}

/**
 * The aggregate `cpu` line of /proc/stat: user + nice + system + irq + softirq + steal (guest time is already
 * inside user and nice), and `btime`.
 */
export function parseProcStat(text: string): HostCpu {
  const cpu = /^cpu\s+(.*)$/m.exec(text)?.[1]?.trim().split(/\s+/).map(Number);
  const btime = Number(/^btime\s+(\d+)$/m.exec(text)?.[1]);
  if (!cpu || cpu.length < 8 || cpu.some((n) => !Number.isFinite(n)) || !Number.isFinite(btime)) {
    throw internal('/proc/stat', 'cannot read the host\'s CPU times from /proc/stat (no "cpu" line with 8 counters, or no "btime")');
  }
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = cpu;
  return { busyNs: (user + nice + system + irq + softirq + steal) * NS_PER_TICK, bootTimeMs: btime * 1000 };
}

export interface HostMemory {
  totalBytes: number;
  availableBytes: number;
  /** Memory in use: MemTotal - MemFree. */
  usageBytes: number;
  /** `usageBytes` less the inactive file cache, as kubelet's cAdvisor computes a root cgroup's working set. */
  workingSetBytes: number;
}

export function parseMeminfo(text: string): HostMemory {
  const kb = (key: string): number => {
    const v = new RegExp(`^${key.replace(/[()]/g, '\\$&')}:\\s+(\\d+) kB$`, 'm').exec(text)?.[1];
    if (v === undefined) throw internal('/proc/meminfo', `cannot read the host's memory: /proc/meminfo has no "${key}"`);
    return Number(v) * 1024;
  };
  const total = kb('MemTotal');
  const usage = total - kb('MemFree');
  return { totalBytes: total, availableBytes: kb('MemAvailable'), usageBytes: usage, workingSetBytes: Math.max(0, usage - kb('Inactive(file)')) };
}

export interface ProcessCpu {
  /** User and system time of all the process's threads, in core-nanoseconds. */
  cpuNs: number;
  /** When the process started, in ticks after boot: with the pid, it names one process even if the pid is reused. */
  startTicks: number;
}

/** /proc/<pid>/stat: utime (field 14), stime (15) and starttime (22); the name in field 2 may hold spaces and parentheses. */
export function parsePidStat(text: string, pid: number): ProcessCpu {
  const fields = text.slice(text.lastIndexOf(')') + 2).trim().split(' ');
  const field = (n: number): number => Number(fields[n - 3]);
  const [utime, stime, start] = [field(14), field(15), field(22)];
  if (![utime, stime, start].every(Number.isFinite)) throw internal(`process/${pid}`, `cannot read the CPU times of process ${pid} from /proc/${pid}/stat`);
  return { cpuNs: (utime + stime) * NS_PER_TICK, startTicks: start };
}

export interface ProcessMemory {
  rssBytes: number;
  /** Proportional set size: each shared page divided among the processes mapping it. */
  pssBytes: number;
}

/** /proc/<pid>/smaps_rollup: Rss and Pss. */
export function parseSmapsRollup(text: string, pid: number): ProcessMemory {
  const kb = (key: string): number => {
    const v = new RegExp(`^${key}:\\s+(\\d+) kB$`, 'm').exec(text)?.[1];
    if (v === undefined) throw internal(`process/${pid}`, `cannot read the memory of process ${pid}: /proc/${pid}/smaps_rollup has no "${key}"`);
    return Number(v) * 1024;
  };
  return { rssBytes: kb('Rss'), pssBytes: kb('Pss') };
}

/** /proc/<pid>/cmdline as an argv. */
export const parseCmdline = (text: string): string[] => text.split('\0').filter((a, i, all) => a !== '' || i < all.length - 1);
