/**
 * The node agent's resource sampler: every interval it reads the CPU and memory of each running container (CRI
 * ListContainerStats; for a VM pod that is the guest cgroup's, relayed by the shim), of the node (/proc), and
 * of each VM pod's QEMU and shim daemon (/proc), keeps the newest two samples of each and answers the node's
 * Summary (src/kube/stats.ts) with rates computed from them.
 */
import type { Container, ContainerStats, CriClient, PodSandbox } from '../../cri/index.js';
import { describeError } from '../../errors.js';
import { vmProcessRoles, type CpuStats, type MemoryStats, type PodStatsSummary, type StatsSummary, type VmHostStats } from '../../kube/index.js';
import type { Logger } from '../../log.js';
import { LABEL } from '../cri-config.js';
import { parseMeminfo, parsePidStat, parseProcStat, parseSmapsRollup, type HostMemory, type ProcFs } from './proc.js';
import { UsageWindows, type Sample } from './usage-window.js';
import { VmProcessFinder, type VmProcess } from './vm-processes.js';

/** kubelet's cAdvisor housekeeping and metrics-server's default resolution are 10–15 s. */
export const DEFAULT_SAMPLE_INTERVAL_MS = 10_000;

export interface StatsSamplerOptions {
  cri: Pick<CriClient, 'listPodSandbox' | 'listContainers' | 'listContainerStats'>;
  proc: ProcFs;
  nodeName: string;
  log: Logger;
  intervalMs?: number;
  now?: () => number;
}

type Memory = Omit<MemoryStats, 'time'>;

/** What one round saw besides the samples: which pods and containers run, and the VMs' processes. */
interface Round {
  sandboxes: PodSandbox[];
  containers: Container[];
  vms: Map<string, VmProcess[]>;
  hostBootMs: number;
}

const NODE_SERIES = 'node';
const containerSeries = (id: string): string => `container/${id}`;
const processSeries = (p: VmProcess): string => `process/${p.pid}/${p.startTicks}`;
const iso = (ms: number): string => new Date(ms).toISOString();
const nsToMs = (ns: number): number => ns / 1e6;

export class StatsSampler {
  private readonly windows = new UsageWindows<Memory>();
  private readonly vmFinder: VmProcessFinder;
  private readonly now: () => number;
  private last: Round | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly o: StatsSamplerOptions) {
    this.vmFinder = new VmProcessFinder(o.proc);
    this.now = o.now ?? Date.now;
  }

  /** Samples now and then every interval; a round still running when the next is due is not doubled. */
  start(): void {
    void this.sample();
    this.timer = setInterval(() => void this.sample(), this.o.intervalMs ?? DEFAULT_SAMPLE_INTERVAL_MS);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** One round; failures are logged and the previous samples kept. */
  sample(): Promise<void> {
    this.running ??= this.takeRound()
      .catch((err: unknown) => this.o.log.warn('resource sampling failed; the node\'s stats keep the previous samples', { err: describeError(err) }))
      .finally(() => { this.running = undefined; });
    return this.running;
  }

  private async takeRound(): Promise<void> {
    const { cri, proc } = this.o;
    const [sandboxes, containers, stats] = await Promise.all([
      cri.listPodSandbox({ filter: { state: { state: 'SANDBOX_READY' } } }),
      cri.listContainers({ filter: { state: { state: 'CONTAINER_RUNNING' } } }),
      cri.listContainerStats({}),
    ]);
    const samples = new Map<string, Sample<Memory>>();
    const running = new Set(containers.containers.map((c) => c.id));
    for (const s of stats.stats) {
      const sample = this.containerSample(s);
      if (sample && running.has(s.attributes?.id ?? '')) samples.set(containerSeries(s.attributes?.id ?? ''), sample);
    }
    const [hostStat, meminfo] = await Promise.all([proc.read('stat'), proc.read('meminfo')]);
    const at = this.now();
    const host = parseProcStat(hostStat);
    samples.set(NODE_SERIES, { at, cpuNs: host.busyNs, memory: nodeMemory(parseMeminfo(meminfo)) });
    const vms = await this.vmFinder.find(sandboxes.items.map((s) => s.id));
    for (const p of [...vms.values()].flat()) {
      const sample = await this.processSample(p);
      if (sample) samples.set(processSeries(p), sample);
    }
    this.windows.record(samples);
    this.last = { sandboxes: sandboxes.items, containers: containers.containers, vms, hostBootMs: host.bootTimeMs };
  }

  /** A container's sample; undefined for one CRI reports without CPU usage (not started, or exited). */
  private containerSample(s: ContainerStats): Sample<Memory> | undefined {
    const cpu = s.cpu?.usage_core_nano_seconds;
    if (!s.cpu || !cpu) return undefined;
    const m = s.memory;
    return {
      at: s.cpu.timestamp > 0 ? nsToMs(s.cpu.timestamp) : this.now(),
      cpuNs: cpu.value,
      memory: {
        ...(m?.working_set_bytes ? { workingSetBytes: m.working_set_bytes.value } : {}),
        ...(m?.usage_bytes ? { usageBytes: m.usage_bytes.value } : {}),
        ...(m?.available_bytes ? { availableBytes: m.available_bytes.value } : {}),
        ...(m?.rss_bytes ? { rssBytes: m.rss_bytes.value } : {}),
      },
    };
  }

  /** A VM process's sample; undefined when it has exited (or its pid now names another process) since it was found. */
  private async processSample(p: VmProcess): Promise<Sample<Memory> | undefined> {
    const read = (file: string): Promise<string | undefined> => this.o.proc.read(`${p.pid}/${file}`).catch(() => undefined);
    const [stat, smaps] = await Promise.all([read('stat'), read('smaps_rollup')]);
    if (stat === undefined || smaps === undefined) return undefined;
    const cpu = parsePidStat(stat, p.pid);
    return cpu.startTicks === p.startTicks ? { at: this.now(), cpuNs: cpu.cpuNs, memory: parseSmapsRollup(smaps, p.pid) } : undefined;
  }

  private cpuStats(series: string): CpuStats | undefined {
    const last = this.windows.latest(series);
    if (!last) return undefined;
    const rate = this.windows.rate(series);
    return {
      time: iso(last.at),
      usageCoreNanoSeconds: Math.round(last.cpuNs),
      ...(rate ? { usageNanoCores: rate.nanoCores, windowSeconds: Math.round(rate.windowMs) / 1000 } : {}),
    };
  }

  private memoryStats(series: string): MemoryStats | undefined {
    const last = this.windows.latest(series);
    return last ? { time: iso(last.at), ...last.memory } : undefined;
  }

  /** The node's Summary from the samples so far; empty of pods until the first round is done. */
  summary(): StatsSummary {
    const round = this.last;
    const nodeCpu = this.cpuStats(NODE_SERIES);
    const nodeMemory = this.memoryStats(NODE_SERIES);
    return {
      node: {
        nodeName: this.o.nodeName,
        startTime: iso(round?.hostBootMs ?? 0),
        ...(nodeCpu ? { cpu: nodeCpu } : {}),
        ...(nodeMemory ? { memory: nodeMemory } : {}),
      },
      pods: round ? round.sandboxes.flatMap((s) => this.podStats(s, round)) : [],
    };
  }

  private podStats(sandbox: PodSandbox, round: Round): PodStatsSummary[] {
    const name = sandbox.metadata?.name ?? sandbox.labels[LABEL.podName];
    const namespace = sandbox.metadata?.namespace ?? sandbox.labels[LABEL.podNamespace];
    const uid = sandbox.metadata?.uid ?? sandbox.labels[LABEL.podUid];
    if (!name || !namespace || !uid) return [];
    const containers = round.containers.filter((c) => c.pod_sandbox_id === sandbox.id).flatMap((c) => {
      const cpu = this.cpuStats(containerSeries(c.id));
      const memory = this.memoryStats(containerSeries(c.id));
      if (!cpu || !memory) return [];
      return [{ name: c.metadata?.name ?? c.labels[LABEL.containerName] ?? '', startTime: iso(nsToMs(c.created_at)), cpu, memory }];
    });
    const procs = round.vms.get(sandbox.id);
    const vm = procs ? this.vmStats(procs) : undefined;
    return [{ podRef: { name, namespace, uid }, startTime: iso(nsToMs(sandbox.created_at)), containers, ...(vm ? { vm } : {}) }];
  }

  /** The VM's processes and their sums; a sum only when every process has that value. */
  private vmStats(procs: VmProcess[]): VmHostStats {
    const processes = [...procs].sort((a, b) => vmProcessRoles.indexOf(a.role) - vmProcessRoles.indexOf(b.role)).map((p) => {
      const cpu = this.cpuStats(processSeries(p));
      const memory = this.memoryStats(processSeries(p));
      return { role: p.role, pid: p.pid, ...(cpu ? { cpu } : {}), ...(memory ? { memory } : {}) };
    });
    const cpus = processes.map((p) => p.cpu);
    const mems = processes.map((p) => p.memory);
    const cpu = cpus.every((c): c is CpuStats => c?.usageNanoCores !== undefined) ? sumCpu(cpus) : undefined;
    const memory = mems.every((m): m is MemoryStats => m !== undefined) ? sumMemory(mems) : undefined;
    return { processes, ...(cpu ? { cpu } : {}), ...(memory ? { memory } : {}) };
  }
}

const nodeMemory = (m: HostMemory): Memory => ({ workingSetBytes: m.workingSetBytes, usageBytes: m.usageBytes, availableBytes: m.availableBytes });

const latestTime = (stats: Array<{ time: string }>): string => stats.map((s) => s.time).sort().at(-1) ?? iso(0);
const total = (values: Array<number | undefined>): number => values.reduce<number>((a, v) => a + (v ?? 0), 0);

function sumCpu(cpus: CpuStats[]): CpuStats | undefined {
  if (cpus.length === 0) return undefined;
  return {
    time: latestTime(cpus),
    usageNanoCores: total(cpus.map((c) => c.usageNanoCores)),
    usageCoreNanoSeconds: total(cpus.map((c) => c.usageCoreNanoSeconds)),
    windowSeconds: Math.min(...cpus.map((c) => c.windowSeconds ?? Infinity)),
  };
}

function sumMemory(mems: MemoryStats[]): MemoryStats | undefined {
  if (mems.length === 0) return undefined;
  return {
    time: latestTime(mems),
    rssBytes: total(mems.map((m) => m.rssBytes)),
    pssBytes: total(mems.map((m) => m.pssBytes)),
  };
}
