/**
 * containerd's Task service over the sandbox runtime. Tasks are grouped into pod VMs (pods.ts): a CRI
 * sandbox task is the VM itself, its containers run inside it in namespaces and cgroups of their own, and a
 * task outside CRI gets a VM of its own. Events go out in containerd's required order. Decoding and encoding
 * happen in ttrpc-adapter.ts; this file deals in plain objects.
 */
import { constants } from 'node:os';
import { failedPrecondition, isSandpodError, notFound, SandpodError } from '../errors.js';
import type { Logger } from '../log.js';
import type { SandpodPaths } from '../paths.js';
import type { ContainerLimits, ProcessSpec } from '../protocol/index.js';
import type { ProcessHandle, SandboxRuntime } from '../sandbox/index.js';
import { timestamp, type EventPublisher } from './events.js';
import { parseLinuxResources, parseOciProcess, readBundleSpec, type LinuxResources, type OciProcess, type OciSpec } from './oci.js';
import { guestContainerSpec, planMounts } from './guest-spec.js';
import { groupOf, kindOf, removeShare, unmountContainerRoot, type TaskKind } from './pod-layout.js';
import { mountContainerRoot, refuseHostNamespaces, startPodVm, type PodVm, type PodVmOptions } from './pods.js';
import { TaskStdio, type StdioPaths } from './stdio.js';

export const enum TaskStatus { Unknown = 0, Created = 1, Running = 2, Stopped = 3 }

export interface Mount { type: string; source: string; target: string; options: string[] }
export interface ExitInfo { pid: number; exit_status: number; exited_at_ms: number }

interface Proc {
  execId: string;
  spec: ProcessSpec;
  stdio: TaskStdio;
  status: TaskStatus;
  handle?: ProcessHandle;
  exit?: ExitInfo;
  exited: Promise<ExitInfo>;
  settle: (e: ExitInfo) => void;
}

interface Task {
  id: string;
  bundle: string;
  kind: TaskKind;
  pod: PodVm;
  init: Proc;
  execs: Map<string, Proc>;
}

const signals = constants.signals as Record<string, number>;
/** How long after a SIGKILL the guest has to report the process's exit before the shim reports it itself. */
const KILL_EXIT_MS = 5000;
const signalName = (n: number): string => Object.entries(signals).find(([, v]) => v === n)?.[0] ?? `SIG${n}`;
const signalNumber = (name: string | null): number => (name ? signals[name] ?? 0 : 0);

function newProc(execId: string, spec: ProcessSpec, paths: StdioPaths): Proc {
  let settle!: (e: ExitInfo) => void;
  const exited = new Promise<ExitInfo>((r) => { settle = r; });
  return { execId, spec, stdio: new TaskStdio(paths), status: TaskStatus.Created, exited, settle };
}

/** The guest process for an OCI process: its command, environment, user and capabilities, in container `id`. */
export function processSpec(p: OciProcess, terminal: boolean, container: string, init: boolean): ProcessSpec {
  // The OCI spec omits empty sets (Go's omitempty): `capabilities: {}` is a process with none (drop ALL).
  const caps = p.capabilities ? (p.capabilities.bounding ?? p.capabilities.effective ?? []) : undefined;
  return {
    args: p.args, env: p.env ?? [], cwd: p.cwd ?? '/', terminal, stdin: false, container, init,
    ...(p.consoleSize ? { rows: p.consoleSize.height, cols: p.consoleSize.width } : {}),
    ...(p.user ? { user: { uid: p.user.uid, gid: p.user.gid, ...(p.user.additionalGids ? { groups: p.user.additionalGids } : {}) } } : {}),
    ...(caps ? { capabilities: caps } : {}),
    ...(p.noNewPrivileges ? { noNewPrivileges: true } : {}),
  };
}

/** cgroup limits from OCI resources; unset and non-positive values (e.g. quota -1) set nothing. */
function containerLimits(r: LinuxResources | undefined): ContainerLimits {
  const pos = (n: number | undefined): number | undefined => (n !== undefined && n > 0 ? Math.floor(n) : undefined);
  const [memoryBytes, cpuQuotaUs, cpuPeriodUs, pidsMax] = [pos(r?.memory?.limit), pos(r?.cpu?.quota), pos(r?.cpu?.period), pos(r?.pids?.limit)];
  return {
    ...(memoryBytes ? { memoryBytes } : {}), ...(cpuQuotaUs ? { cpuQuotaUs } : {}), ...(cpuPeriodUs ? { cpuPeriodUs } : {}), ...(pidsMax ? { pidsMax } : {}),
  };
}

export class TaskService {
  private readonly tasks = new Map<string, Task>();
  private readonly pods = new Map<string, PodVm>();

  constructor(
    private readonly runtime: SandboxRuntime,
    private readonly paths: SandpodPaths,
    private readonly opts: PodVmOptions,
    private readonly events: EventPublisher,
    private readonly log: Logger,
  ) {}

  get taskCount(): number { return this.tasks.size; }

  /** No task, no pod VM and no Create under way: nothing for containerd to come back to. */
  get idle(): boolean { return this.tasks.size === 0 && this.pods.size === 0 && this.creating === 0; }
  private creating = 0;

  private task(id: string): Task {
    const t = this.tasks.get(id);
    if (!t) throw notFound(`task/${id}`, `task ${id} not found`);
    return t;
  }

  private proc(id: string, execId: string): Proc {
    const t = this.task(id);
    if (!execId) return t.init;
    const p = t.execs.get(execId);
    if (!p) throw notFound(`task/${id}`, `exec ${execId} not found in task ${id}`);
    return p;
  }

  private vmPid(t: Task): number { return t.pod.sandbox.vm.pid; }

  async create(req: { id: string; bundle: string; rootfs: Mount[]; terminal: boolean; stdin: string; stdout: string; stderr: string }): Promise<{ pid: number }> {
    this.creating++;
    try {
      return await this.createTask(req);
    } finally {
      this.creating--;
    }
  }

  private async createTask(req: { id: string; bundle: string; rootfs: Mount[]; terminal: boolean; stdin: string; stdout: string; stderr: string }): Promise<{ pid: number }> {
    const object = `task/${req.id}`;
    if (this.tasks.has(req.id)) throw new SandpodError('AlreadyExists', `task ${req.id} already exists`, { object });
    const spec = await readBundleSpec(req.bundle, object);
    const kind = kindOf(spec);
    const group = groupOf(spec, req.id);
    let pod = this.pods.get(group);
    if (kind === 'container' && !pod && group !== req.id) {
      throw failedPrecondition(object, `its pod sandbox ${group} is not running in this shim; create the pod sandbox first`);
    }
    if (kind === 'sandbox' && pod) throw new SandpodError('AlreadyExists', `pod sandbox ${group} already has a VM`, { object });
    // What the container asks of the guest is checked before a VM boots or anything is mounted.
    refuseHostNamespaces(spec, object);
    const plan = kind === 'container' ? planMounts(spec, object) : undefined;
    const guest = plan ? guestContainerSpec(spec, plan, object) : undefined;
    const ownVm = !pod;
    pod ??= await this.startPod(group, spec, kind, object);
    try {
      if (plan && guest) {
        await mountContainerRoot(req.bundle, req.rootfs, plan, pod.share, req.id);
        try {
          // A VM of the container's own already has its sysctls from the same spec.
          const { sysctls, ...rest } = guest;
          await pod.sandbox.createContainer({ id: req.id, root: req.id, ...containerLimits(spec.linux?.resources), ...rest, ...(sysctls && !ownVm ? { sysctls } : {}) });
        } catch (err) {
          await unmountContainerRoot(req.bundle, pod.share, req.id, this.log);
          throw err;
        }
      }
    } catch (err) {
      if (pod.tasks.size === 0) await this.stopPod(pod);
      throw err;
    }
    const init = newProc('', processSpec(spec.process, req.terminal, req.id, true), { stdin: req.stdin, stdout: req.stdout, stderr: req.stderr, terminal: req.terminal });
    const task: Task = { id: req.id, bundle: req.bundle, kind, pod, init, execs: new Map() };
    this.tasks.set(req.id, task);
    pod.tasks.add(req.id);
    await this.events.publish('TaskCreate', {
      container_id: req.id, bundle: req.bundle, rootfs: req.rootfs,
      io: { stdin: req.stdin, stdout: req.stdout, stderr: req.stderr, terminal: req.terminal }, pid: this.vmPid(task),
    });
    return { pid: this.vmPid(task) };
  }

  private async startPod(group: string, spec: OciSpec, kind: TaskKind, object: string): Promise<PodVm> {
    const pod = await startPodVm(this.runtime, this.paths, this.opts, group, spec, kind, object);
    this.pods.set(group, pod);
    void pod.sandbox.vm.exited.then(() => this.onVmExit(pod));
    this.log.info('pod vm started', { pod: group, vmPid: pod.sandbox.vm.pid, cpus: pod.sandbox.vm.config.cpus, memoryMiB: pod.sandbox.vm.config.memoryMiB });
    return pod;
  }

  private async stopPod(pod: PodVm): Promise<void> {
    await pod.sandbox.destroy();
    await removeShare(pod.share).catch((err: unknown) => this.log.warn('share not removed', { pod: pod.id, err }));
    this.pods.delete(pod.id);
  }

  async start(id: string, execId: string): Promise<{ pid: number }> {
    const t = this.task(id);
    const p = this.proc(id, execId);
    if (p.status !== TaskStatus.Created) throw failedPrecondition(`task/${id}`, `process ${execId || id} is already started`);
    const pid = this.vmPid(t);
    if (t.kind === 'sandbox' && !execId) {
      // The pod sandbox's process is the VM: running since Create, ended by Kill or by the VM's death.
      p.status = TaskStatus.Running;
    } else {
      const handle = await t.pod.sandbox.exec({ ...p.spec, stdin: p.stdio.hasStdin }, p.stdio.io());
      if (p.exit) {
        // Killed while the guest was starting it (the kill of a created process ends it at once, and containerd
        // has heard of that exit): what the guest just started must not run on unseen.
        await handle.signal('SIGKILL').catch(() => undefined);
        throw failedPrecondition(`task/${id}`, `process ${execId || id} was killed before it started`);
      }
      p.handle = handle;
      p.status = TaskStatus.Running;
      p.stdio.attachStdin(handle);
      void handle.exited.then(async (e) => {
        if (e.oomKilled) await this.events.publish('TaskOOM', { container_id: id });
        await this.onExit(t, p, e.code ?? (e.signal ? 128 + signalNumber(e.signal) : 255));
      });
    }
    if (execId) await this.events.publish('TaskExecStarted', { container_id: id, exec_id: execId, pid });
    else await this.events.publish('TaskStart', { container_id: id, pid });
    return { pid };
  }

  /** A process ended: its output is flushed to containerd before anyone hears of the exit. */
  private async onExit(t: Task, p: Proc, status: number): Promise<void> {
    if (p.exit) return;
    p.status = TaskStatus.Stopped;
    p.exit = { pid: this.vmPid(t), exit_status: status, exited_at_ms: Date.now() };
    await p.stdio.close();
    void this.events.publish('TaskExit', {
      container_id: t.id, id: p.execId || t.id, pid: p.exit.pid, exit_status: status, exited_at: timestamp(p.exit.exited_at_ms),
    });
    p.settle(p.exit);
  }

  /** A VM that dies takes its processes with it: they exit 128+SIGKILL unless they already had. */
  private onVmExit(pod: PodVm): void {
    for (const id of pod.tasks) {
      const t = this.tasks.get(id);
      if (!t) continue;
      for (const p of [t.init, ...t.execs.values()]) if (p.status !== TaskStatus.Stopped) void this.onExit(t, p, 137);
    }
  }

  async exec(id: string, execId: string, terminal: boolean, stdio: StdioPaths, processJson: Buffer): Promise<void> {
    const t = this.task(id);
    if (t.execs.has(execId)) throw new SandpodError('AlreadyExists', `exec ${execId} already exists in task ${id}`, { object: `task/${id}` });
    if (t.kind === 'sandbox') throw failedPrecondition(`task/${id}`, 'a pod sandbox has no container to exec in; exec in one of its containers');
    const spec = processSpec(parseOciProcess(processJson, `task/${id}`), terminal, id, false);
    t.execs.set(execId, newProc(execId, spec, { ...stdio, terminal }));
    await this.events.publish('TaskExecAdded', { container_id: id, exec_id: execId });
  }

  state(id: string, execId: string): Record<string, unknown> {
    const t = this.task(id);
    const p = this.proc(id, execId);
    return {
      id, exec_id: execId, bundle: t.bundle, pid: this.vmPid(t), status: p.status,
      stdin: p.stdio.paths.stdin, stdout: p.stdio.paths.stdout, stderr: p.stdio.paths.stderr, terminal: p.stdio.paths.terminal,
      exit_status: p.exit?.exit_status ?? 0, ...(p.exit ? { exited_at: timestamp(p.exit.exited_at_ms) } : {}),
    };
  }

  async wait(id: string, execId: string): Promise<ExitInfo> { return this.proc(id, execId).exited; }

  /**
   * Signals a process; one that has already exited has nothing left to stop, which is not an error. One created
   * and never started (containerd restarted between Create and Start, and now deletes it with a kill) ends at
   * once, as runc's created container does: containerd waits for that exit.
   */
  async kill(id: string, execId: string, signal: number): Promise<void> {
    const t = this.task(id);
    const p = this.proc(id, execId);
    if (p.status === TaskStatus.Stopped) return;
    if (t.kind === 'sandbox' && !execId) {
      // Stopping the pod sandbox stops its VM (running since Create); a container still in it is reported killed with it.
      await this.onExit(t, p, signal === signals['SIGKILL'] ? 137 : 0);
      await t.pod.sandbox.destroy();
      return;
    }
    if (p.status === TaskStatus.Created) {
      await this.onExit(t, p, 128 + signal);
      return;
    }
    // SIGKILL always ends a process: containerd waits for that exit (a pod's stop, under a deadline), so if the guest
    // has not reported it a while later, it is reported from here rather than never.
    if (signal === signals['SIGKILL']) {
      setTimeout(() => {
        if (p.exit) return;
        this.log.warn('no exit from the guest after SIGKILL; reporting the process killed', { task: id, exec: execId });
        void this.onExit(t, p, 137);
      }, KILL_EXIT_MS).unref();
    }
    // The guest no longer knows a process whose exit is already on its way here.
    await p.handle?.signal(signalName(signal)).catch((err: unknown) => { if (!isSandpodError(err, 'NotFound')) throw err; });
  }

  resize(id: string, execId: string, width: number, height: number): void {
    this.proc(id, execId).handle?.resize(height, width);
  }

  closeIO(id: string, execId: string): void {
    this.proc(id, execId).stdio.closeStdin();
  }

  async delete(id: string, execId: string): Promise<ExitInfo> {
    const t = this.task(id);
    const p = this.proc(id, execId);
    if (p.status === TaskStatus.Running) throw failedPrecondition(`task/${id}`, `process ${execId || id} is still running; kill it first`);
    const exit = p.exit ?? { pid: this.vmPid(t), exit_status: 0, exited_at_ms: Date.now() };
    if (execId) {
      t.execs.delete(execId);
      return exit;
    }
    await this.release(t);
    await this.events.publish('TaskDelete', { container_id: id, pid: exit.pid, exit_status: exit.exit_status, exited_at: timestamp(exit.exited_at_ms), id });
    return exit;
  }

  /** Frees what a task holds: a container's place in the guest and its mounts; the VM with the pod's last task. */
  private async release(t: Task): Promise<void> {
    if (t.kind === 'container') {
      await t.pod.sandbox.removeContainer(t.id).catch((err: unknown) => this.log.warn('container not removed in the guest', { task: t.id, err }));
      await unmountContainerRoot(t.bundle, t.pod.share, t.id, this.log);
    }
    this.tasks.delete(t.id);
    t.pod.tasks.delete(t.id);
    if (t.kind === 'sandbox' || (t.pod.implicit && t.pod.tasks.size === 0)) {
      for (const other of [...t.pod.tasks]) {
        const o = this.tasks.get(other);
        if (o) await this.release(o);
      }
      await this.stopPod(t.pod);
    }
  }

  /** cgroup v2 metrics of a container, as containerd's own shims report them; a pod sandbox has none of its own. */
  async stats(id: string): Promise<Record<string, unknown>> {
    const t = this.task(id);
    if (t.kind === 'sandbox') return {};
    const s = await t.pod.sandbox.containerStats(id);
    return {
      pids: { current: s.pids, limit: s.pidsLimit ?? 0 },
      cpu: { usage_usec: s.cpuUsageUs, user_usec: s.cpuUserUs, system_usec: s.cpuSystemUs },
      memory: { usage: s.memoryBytes, usage_limit: s.memoryLimitBytes ?? 0 },
      memory_events: { oom_kill: s.oomKills },
    };
  }

  /** New resources for a running container (JSON LinuxResources); a pod sandbox's VM keeps its size. */
  async update(id: string, resourcesJson: Buffer | undefined): Promise<void> {
    const t = this.task(id);
    if (t.kind === 'sandbox' || !resourcesJson) return;
    await t.pod.sandbox.updateContainer(id, containerLimits(parseLinuxResources(resourcesJson, `task/${id}`)));
  }

  pids(id: string): number[] { return [this.vmPid(this.task(id))]; }
  taskPid(id: string): number { return this.vmPid(this.task(id)); }

  /** Tears down every task (the shim is going away). */
  async shutdownAll(): Promise<void> {
    for (const t of [...this.tasks.values()]) if (this.tasks.has(t.id)) await this.release(t).catch(() => undefined);
    for (const pod of [...this.pods.values()]) await this.stopPod(pod).catch(() => undefined);
  }
}
