/**
 * containerd's Task service over the sandbox runtime. Each task (container) runs in its own VM for now:
 * Create mounts the rootfs and boots the VM, Start runs the OCI process in it, execs run beside it, Delete
 * tears the VM down. Events go out in containerd's required order. Decoding and encoding happen in
 * ttrpc-adapter.ts; this file deals in plain objects.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { constants } from 'node:os';
import { failedPrecondition, notFound, SandpodError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ProcessSpec } from '../protocol/index.js';
import { vmSize, type ProcessHandle, type Sandbox, type SandboxRuntime } from '../sandbox/index.js';
import { timestamp, type EventPublisher } from './events.js';
import { parseOciProcess, readBundleSpec, type OciProcess } from './oci.js';
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
  sandbox: Sandbox;
  rootfsMounted: boolean;
  init: Proc;
  execs: Map<string, Proc>;
}

const run = promisify(execFile);
const signalName = (n: number): string =>
  Object.entries(constants.signals as Record<string, number>).find(([, v]) => v === n)?.[0] ?? `SIG${n}`;
const signalNumber = (name: string | null): number => (name ? (constants.signals as Record<string, number>)[name] ?? 0 : 0);

/** A VM name for a container id: sandbox ids are at most 63 lowercase characters. */
export const sandboxIdFor = (id: string): string => id.toLowerCase().replace(/[^a-z0-9_.-]/g, '-').slice(0, 63);

function newProc(execId: string, spec: ProcessSpec, paths: StdioPaths): Proc {
  let settle!: (e: ExitInfo) => void;
  const exited = new Promise<ExitInfo>((r) => { settle = r; });
  return { execId, spec, stdio: new TaskStdio(paths), status: TaskStatus.Created, exited, settle };
}

function processSpec(p: OciProcess, terminal: boolean): ProcessSpec {
  return {
    args: p.args, env: p.env ?? [], cwd: p.cwd ?? '/', terminal, stdin: false,
    ...(p.consoleSize ? { rows: p.consoleSize.height, cols: p.consoleSize.width } : {}),
  };
}

export class TaskService {
  private readonly tasks = new Map<string, Task>();

  constructor(private readonly runtime: SandboxRuntime, private readonly events: EventPublisher, private readonly log: Logger) {}

  get taskCount(): number { return this.tasks.size; }

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

  async create(req: { id: string; bundle: string; rootfs: Mount[]; terminal: boolean; stdin: string; stdout: string; stderr: string }): Promise<{ pid: number }> {
    if (this.tasks.has(req.id)) throw new SandpodError('AlreadyExists', `task ${req.id} already exists`, { object: `task/${req.id}` });
    const object = `task/${req.id}`;
    const spec = await readBundleSpec(req.bundle, object);
    const rootfs = join(req.bundle, 'rootfs');
    let mounted = false;
    for (const m of req.rootfs) {
      await run('mount', ['-t', m.type, ...(m.options.length ? ['-o', m.options.join(',')] : []), m.source, rootfs]);
      mounted = true;
    }
    try {
      const res = spec.linux?.resources;
      const quota = res?.cpu?.quota;
      const period = res?.cpu?.period;
      const cpu = quota && quota > 0 && period ? String(quota / period) : undefined;
      const memory = res?.memory?.limit && res.memory.limit > 0 ? String(res.memory.limit) : undefined;
      const size = vmSize(cpu, memory, object);
      const sandbox = await this.runtime.create({ id: sandboxIdFor(req.id), rootfs, ...size, hostname: spec.hostname ?? sandboxIdFor(req.id).slice(0, 63) });
      const init = newProc('', processSpec(spec.process, req.terminal), { stdin: req.stdin, stdout: req.stdout, stderr: req.stderr, terminal: req.terminal });
      const task: Task = { id: req.id, bundle: req.bundle, sandbox, rootfsMounted: mounted, init, execs: new Map() };
      this.tasks.set(req.id, task);
      void sandbox.vm.exited.then(() => this.onVmExit(task));
      await this.events.publish('TaskCreate', {
        container_id: req.id, bundle: req.bundle, rootfs: req.rootfs,
        io: { stdin: req.stdin, stdout: req.stdout, stderr: req.stderr, terminal: req.terminal }, pid: sandbox.vm.pid,
      });
      return { pid: sandbox.vm.pid };
    } catch (err) {
      if (mounted) await run('umount', [rootfs]).catch(() => undefined);
      throw err;
    }
  }

  async start(id: string, execId: string): Promise<{ pid: number }> {
    const t = this.task(id);
    const p = this.proc(id, execId);
    if (p.status !== TaskStatus.Created) throw failedPrecondition(`task/${id}`, `process ${execId || id} is already started`);
    const handle = await t.sandbox.exec({ ...p.spec, stdin: p.stdio.hasStdin }, p.stdio.io());
    p.handle = handle;
    p.status = TaskStatus.Running;
    p.stdio.attachStdin(handle);
    const pid = t.sandbox.vm.pid;
    void handle.exited.then((e) => this.onExit(t, p, e.code ?? (e.signal ? 128 + signalNumber(e.signal) : 255)));
    if (execId) await this.events.publish('TaskExecStarted', { container_id: id, exec_id: execId, pid });
    else await this.events.publish('TaskStart', { container_id: id, pid });
    return { pid };
  }

  /** A process ended: its output is flushed to containerd before anyone hears of the exit. */
  private async onExit(t: Task, p: Proc, status: number): Promise<void> {
    if (p.exit) return;
    p.status = TaskStatus.Stopped;
    p.exit = { pid: t.sandbox.vm.pid, exit_status: status, exited_at_ms: Date.now() };
    await p.stdio.close();
    void this.events.publish('TaskExit', {
      container_id: t.id, id: p.execId || t.id, pid: p.exit.pid, exit_status: status, exited_at: timestamp(p.exit.exited_at_ms),
    });
    p.settle(p.exit);
  }

  /** A VM that dies takes its processes with it: they exit 128+SIGKILL unless they already had. */
  private onVmExit(t: Task): void {
    for (const p of [t.init, ...t.execs.values()]) if (p.status !== TaskStatus.Stopped) void this.onExit(t, p, 137);
  }

  async exec(id: string, execId: string, terminal: boolean, stdio: StdioPaths, processJson: Buffer): Promise<void> {
    const t = this.task(id);
    if (t.execs.has(execId)) throw new SandpodError('AlreadyExists', `exec ${execId} already exists in task ${id}`, { object: `task/${id}` });
    const spec = processSpec(parseOciProcess(processJson, `task/${id}`), terminal);
    t.execs.set(execId, newProc(execId, spec, { ...stdio, terminal }));
    await this.events.publish('TaskExecAdded', { container_id: id, exec_id: execId });
  }

  state(id: string, execId: string): Record<string, unknown> {
    const t = this.task(id);
    const p = this.proc(id, execId);
    return {
      id, exec_id: execId, bundle: t.bundle, pid: t.sandbox.vm.pid, status: p.status,
      stdin: p.stdio.paths.stdin, stdout: p.stdio.paths.stdout, stderr: p.stdio.paths.stderr, terminal: p.stdio.paths.terminal,
      exit_status: p.exit?.exit_status ?? 0, ...(p.exit ? { exited_at: timestamp(p.exit.exited_at_ms) } : {}),
    };
  }

  async wait(id: string, execId: string): Promise<ExitInfo> { return this.proc(id, execId).exited; }

  async kill(id: string, execId: string, signal: number): Promise<void> {
    const p = this.proc(id, execId);
    if (!p.handle || p.status !== TaskStatus.Running) throw notFound(`task/${id}`, `process ${execId || id} is not running`);
    await p.handle.signal(signalName(signal));
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
    const exit = p.exit ?? { pid: t.sandbox.vm.pid, exit_status: 0, exited_at_ms: Date.now() };
    if (execId) {
      t.execs.delete(execId);
      return exit;
    }
    await t.sandbox.destroy();
    if (t.rootfsMounted) await run('umount', [join(t.bundle, 'rootfs')]).catch((err: unknown) => this.log.warn('unmount failed', { task: id, err }));
    this.tasks.delete(id);
    await this.events.publish('TaskDelete', { container_id: id, pid: exit.pid, exit_status: exit.exit_status, exited_at: timestamp(exit.exited_at_ms), id });
    return exit;
  }

  pids(id: string): number[] { return [this.task(id).sandbox.vm.pid]; }
  taskPid(id: string): number { return this.task(id).sandbox.vm.pid; }

  /** Tears down every task (the shim is going away). */
  async shutdownAll(): Promise<void> {
    for (const t of [...this.tasks.values()]) {
      await t.sandbox.destroy().catch(() => undefined);
      if (t.rootfsMounted) await run('umount', [join(t.bundle, 'rootfs')]).catch(() => undefined);
      this.tasks.delete(t.id);
    }
  }
}
