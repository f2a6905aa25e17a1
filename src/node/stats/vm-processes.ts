/**
 * Finds the host processes behind a VM pod: its QEMU (`-name sandpod-<sandboxIdFor(pod sandbox id)>`) and the
 * shim daemon serving it (`-id <pod sandbox id>`), by the rules in pod-vm-identity.ts. /proc is scanned only
 * when a pod sandbox is new or one of the processes found for it has gone; a plain pod's sandbox is scanned
 * for once and then known to have none.
 */
import { groupOfShimDaemon, sandboxIdFor, sandboxOfQemu } from '../../pod-vm-identity.js';
import type { VmProcessRole } from '../../kube/index.js';
import { parseCmdline, parsePidStat, type ProcFs } from './proc.js';

export interface VmProcess {
  role: VmProcessRole;
  pid: number;
  /** With the pid, names this process even after the pid is reused. */
  startTicks: number;
}

/** The VM processes in a list of command lines, by pod sandbox id, for the pod sandboxes asked about. */
export function matchVmProcesses(podSandboxIds: readonly string[], processes: ReadonlyArray<{ pid: number; argv: string[] }>): Map<string, Array<{ role: VmProcessRole; pid: number }>> {
  const byVmName = new Map(podSandboxIds.map((id) => [sandboxIdFor(id), id]));
  const wanted = new Set(podSandboxIds);
  const found = new Map<string, Array<{ role: VmProcessRole; pid: number }>>();
  const add = (id: string, role: VmProcessRole, pid: number): void => {
    found.set(id, [...(found.get(id) ?? []), { role, pid }]);
  };
  for (const { pid, argv } of processes) {
    const vm = sandboxOfQemu(argv);
    const qemuOf = vm === undefined ? undefined : byVmName.get(vm);
    if (qemuOf !== undefined) { add(qemuOf, 'qemu', pid); continue; }
    const group = groupOfShimDaemon(argv);
    if (group !== undefined && wanted.has(group)) add(group, 'shim', pid);
  }
  return found;
}

export class VmProcessFinder {
  /** What each pod sandbox seen so far has: its processes, or none (a plain pod). */
  private readonly known = new Map<string, VmProcess[]>();

  constructor(private readonly proc: ProcFs) {}

  /** The VM processes of each of these pod sandboxes that has any; sandboxes not asked about are forgotten. */
  async find(podSandboxIds: readonly string[]): Promise<Map<string, VmProcess[]>> {
    for (const id of this.known.keys()) if (!podSandboxIds.includes(id)) this.known.delete(id);
    const stale: string[] = [];
    for (const id of podSandboxIds) {
      const procs = this.known.get(id);
      if (!procs || !(await this.allAlive(procs))) stale.push(id);
    }
    if (stale.length > 0) {
      const found = matchVmProcesses(stale, await this.commandLines());
      for (const id of stale) {
        const procs: VmProcess[] = [];
        for (const p of found.get(id) ?? []) {
          const startTicks = await this.startTicks(p.pid);
          if (startTicks !== undefined) procs.push({ ...p, startTicks });
        }
        this.known.set(id, procs);
      }
    }
    return new Map([...this.known].filter(([, procs]) => procs.length > 0));
  }

  private async allAlive(procs: VmProcess[]): Promise<boolean> {
    for (const p of procs) if ((await this.startTicks(p.pid)) !== p.startTicks) return false;
    return true;
  }

  private async startTicks(pid: number): Promise<number | undefined> {
    const stat = await this.proc.read(`${pid}/stat`).catch(() => undefined);
    return stat === undefined ? undefined : parsePidStat(stat, pid).startTicks;
  }

  private async commandLines(): Promise<Array<{ pid: number; argv: string[] }>> {
    const out: Array<{ pid: number; argv: string[] }> = [];
    for (const pid of await this.proc.pids()) {
      const cmdline = await this.proc.read(`${pid}/cmdline`).catch(() => '');
      if (cmdline !== '') out.push({ pid, argv: parseCmdline(cmdline) });
    }
    return out;
  }
}
