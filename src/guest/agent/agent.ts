/**
 * The guest agent: answers the host's requests over the framed channel, mounts the sandbox rootfs and runs
 * processes chrooted into it, streaming their output and exit status back. It runs as the guest's PID 1.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { constants, release } from 'node:os';
import type { IPty } from 'node-pty';
import {
  hostMessageSchema, PROTOCOL_VERSION,
  type GuestMessage, type HostMessage, type HostRequest, type ProcessSpec, type ReadyInfo,
} from '../../protocol/index.js';
import { SandpodError, describeError } from '../../errors.js';
import { BUSYBOX, MOUNT_ROOTFS_SCRIPT, PREPARE_ROOT_SCRIPT, RESEED_TOOL, SANDBOX_ROOT, SPAWN_TOOL } from '../layout.js';
import { runCommands } from './commands.js';
import { findExecutable, isDirectoryInRoot } from './resolve.js';
import { capabilityMask } from './capabilities.js';
import { Containers, type Container } from './containers.js';
import { networkCommands } from './network.js';
import { applySysctls } from './sysctls.js';

/** Where the host's entropy waits for the reseed tool during setup (tmpfs, removed right after). */
const ENTROPY_FILE = '/run/sandpod-entropy';

type Send = (m: GuestMessage) => Promise<void>;

type PtyModule = typeof import('node-pty');

interface RunningProcess {
  pid: number;
  writeStdin(data: Buffer): void;
  closeStdin(): void;
  resize(rows: number, cols: number): void;
}

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export function readyInfo(): ReadyInfo {
  const uptime = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
  return {
    protocol: PROTOCOL_VERSION,
    kernel: release(),
    bootMs: Math.round(uptime * 1000),
    bootId: readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(),
  };
}

export class GuestAgent {
  private rootReady = false;
  private readonly containers = new Containers();
  private readonly procs = new Map<string, RunningProcess>();
  private pty: PtyModule | undefined;

  constructor(private readonly send: Send) {}

  async handle(raw: unknown): Promise<void> {
    const parsed = hostMessageSchema.safeParse(raw);
    if (!parsed.success) {
      const id = typeof raw === 'object' && raw !== null && 'id' in raw && typeof raw.id === 'number' ? raw.id : undefined;
      if (id !== undefined) await this.fail(id, new SandpodError('Invalid', `malformed request: ${parsed.error.issues[0]?.message ?? 'invalid'}`));
      return;
    }
    const msg = parsed.data;
    if (!('id' in msg)) { this.handleStream(msg); return; }
    try {
      const result = await this.handleRequest(msg);
      await this.send({ type: 'reply', id: msg.id, result });
    } catch (err) {
      await this.fail(msg.id, err);
    }
    if (msg.type === 'shutdown') this.powerOff();
  }

  private fail(id: number, err: unknown): Promise<void> {
    const kind = err instanceof SandpodError ? err.kind : 'Internal';
    return this.send({ type: 'failure', id, error: { kind, message: describeError(err) } });
  }

  private handleStream(msg: Exclude<HostMessage, HostRequest>): void {
    const p = this.procs.get(msg.proc);
    if (!p) return;
    switch (msg.type) {
      case 'stdin': p.writeStdin(Buffer.from(msg.data, 'base64')); break;
      case 'close-stdin': p.closeStdin(); break;
      case 'resize': p.resize(msg.rows, msg.cols); break;
    }
  }

  private async handleRequest(msg: HostRequest): Promise<unknown> {
    switch (msg.type) {
      case 'hello': return { nonce: msg.nonce, info: readyInfo() };
      case 'setup': return this.setup(msg);
      case 'exec': return this.exec(msg.proc, msg.spec);
      case 'create-container': {
        if (!this.rootReady) throw new SandpodError('FailedPrecondition', 'create-container before setup: the share is not mounted');
        await this.containers.create(msg.container);
        return {};
      }
      case 'remove-container': await this.containers.remove(msg.container); return {};
      case 'container-stats': return this.containers.stats(msg.container);
      case 'update-container': await this.containers.update(msg.container, msg.limits); return {};
      case 'signal': return this.signal(msg.proc, msg.signal);
      // What the guest holds of the host's files (9p pages written through mmap) goes back before the reply: the
      // host may quit the VM as soon as it has it.
      case 'shutdown': await runCommands([['sync']]); return {};
    }
  }

  private async setup(msg: Extract<HostRequest, { type: 'setup' }>): Promise<unknown> {
    if (this.rootReady) throw new SandpodError('FailedPrecondition', 'the sandbox rootfs is already mounted');
    writeFileSync('/proc/sys/kernel/hostname', msg.hostname);
    const commands: string[][] = [];
    if (msg.entropy) {
      writeFileSync(ENTROPY_FILE, Buffer.from(msg.entropy, 'base64'), { mode: 0o600 });
      commands.push(['sh', '-c', `${RESEED_TOOL} < ${ENTROPY_FILE}; rc=$?; rm -f ${ENTROPY_FILE}; exit $rc`]);
    }
    if (msg.clockMs) commands.push(['date', '-s', `@${Math.floor(msg.clockMs / 1000)}`]);
    commands.push(['sh', MOUNT_ROOTFS_SCRIPT, SANDBOX_ROOT, msg.rootfsTag]);
    if (!msg.shared) commands.push(['sh', PREPARE_ROOT_SCRIPT, SANDBOX_ROOT]);
    const network = msg.network ? await networkCommands(msg.network) : undefined;
    await runCommands([...commands, ...(network?.commands ?? [])]);
    if (msg.sysctls) await applySysctls(msg.sysctls);
    this.rootReady = true;
    return network ? { device: network.device } : {};
  }

  private async exec(id: string, spec: ProcessSpec): Promise<unknown> {
    if (!this.rootReady) throw new SandpodError('FailedPrecondition', 'exec before setup: the sandbox rootfs is not mounted');
    if (this.procs.has(id)) throw new SandpodError('AlreadyExists', `process ${id} already exists`);
    const env = envObject(spec.env);
    const container = spec.container ? this.containers.get(spec.container) : undefined;
    const root = container?.root ?? SANDBOX_ROOT;
    const where = container ? `container ${container.id}` : 'the sandbox rootfs';
    const cmd = spec.args[0] as string;
    const exe = await findExecutable(root, cmd, env['PATH'] ?? DEFAULT_PATH, spec.cwd);
    if (!exe) throw new SandpodError('NotFound', `executable "${cmd}" not found in ${where} (PATH=${env['PATH'] ?? DEFAULT_PATH})`);
    if (!(await isDirectoryInRoot(root, spec.cwd))) throw new SandpodError('NotFound', `working directory "${spec.cwd}" does not exist in ${where}`);
    const argv = [...namespaceArgs(container, spec), '--root', root, '--cwd', spec.cwd, ...credentialArgs(spec), '--', ...spec.args];
    const proc = spec.terminal ? await this.startPty(id, argv, env, spec) : this.startPiped(id, argv, env, spec);
    this.procs.set(id, proc);
    if (container && spec.init) container.initPid = proc.pid;
    return { pid: proc.pid };
  }

  /**
   * A process ended: a container's first process takes the container's namespaces with it, and its exit
   * says whether the OOM killer struck in the container.
   */
  private async ended(id: string, pid: number, code: number | null, signal: string | null): Promise<void> {
    this.procs.delete(id);
    let oomKilled = false;
    for (const c of this.containers.all()) {
      if (c.initPid !== pid) continue;
      delete c.initPid;
      oomKilled = (await this.containers.stats(c.id).catch(() => undefined))?.oomKills ? true : false;
    }
    await this.send({ type: 'exit', proc: id, code, signal, ...(oomKilled ? { oomKilled } : {}) });
  }

  private startPiped(id: string, argv: string[], env: Record<string, string>, spec: ProcessSpec): RunningProcess {
    const child: ChildProcess = spawn(SPAWN_TOOL, argv, { env, stdio: [spec.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (d: Buffer) => void this.send({ type: 'output', proc: id, stream: 'stdout', data: d.toString('base64') }));
    child.stderr?.on('data', (d: Buffer) => void this.send({ type: 'output', proc: id, stream: 'stderr', data: d.toString('base64') }));
    child.stdin?.on('error', () => undefined);
    child.on('close', (code, signal) => { void this.ended(id, child.pid ?? -1, code, signal); });
    return {
      pid: child.pid ?? -1,
      writeStdin: (d) => { child.stdin?.write(d); },
      closeStdin: () => { child.stdin?.end(); },
      resize: () => undefined,
    };
  }

  private async startPty(id: string, argv: string[], env: Record<string, string>, spec: ProcessSpec): Promise<RunningProcess> {
    this.pty ??= await import('node-pty');
    const term: IPty = this.pty.spawn(SPAWN_TOOL, argv, {
      name: env['TERM'] ?? 'xterm', cols: spec.cols ?? 80, rows: spec.rows ?? 24, cwd: '/', env, encoding: null,
    });
    term.onData((d: string | Buffer) => void this.send({ type: 'output', proc: id, stream: 'stdout', data: Buffer.from(d).toString('base64') }));
    term.onExit(({ exitCode, signal }) => {
      // node-pty can report the exit before the last output has been read: let pending reads land first.
      setTimeout(() => {
        void this.ended(id, term.pid, signal ? null : exitCode, signal ? signalName(signal) : null);
      }, 50);
    });
    return {
      pid: term.pid,
      writeStdin: (d) => term.write(d),
      closeStdin: () => term.write('\x04'),
      resize: (rows, cols) => term.resize(cols, rows),
    };
  }

  private signal(id: string, signal: string): unknown {
    const p = this.procs.get(id);
    if (!p) throw new SandpodError('NotFound', `process ${id} is not running`);
    // The process itself is sandpod-spawn's child; spawn only forwards signals, and SIGKILL cannot be forwarded.
    signalProcess(spawnedChild(p.pid) ?? p.pid, signal, `process ${id}`);
    return {};
  }

  private powerOff(): void {
    // Give the reply a moment to reach the host, then power off (microvm: ACPI S5, QEMU exits).
    setTimeout(() => { spawn(BUSYBOX, ['poweroff', '-f'], { stdio: 'ignore' }); }, 100);
  }
}

/**
 * Sends `signal` to `pid`. A process that has already exited (ESRCH: its exit is on its way to the host) is
 * not an error: a stop that races the process's own end has nothing left to do.
 */
export function signalProcess(pid: number, signal: string, what: string): void {
  try {
    process.kill(pid, signal as NodeJS.Signals);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return;
    throw new SandpodError('Invalid', `cannot send ${signal} to ${what}: ${describeError(err)}`);
  }
}

function spawnedChild(pid: number): number | undefined {
  try {
    const first = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ')[0];
    return first ? Number(first) : undefined;
  } catch {
    return undefined;
  }
}

function namespaceArgs(container: Container | undefined, spec: ProcessSpec): string[] {
  if (!container) return [];
  const cgroup = ['--cgroup', container.cgroup, ...(container.seccomp ? ['--seccomp', container.seccomp.file, '--seccomp-flags', String(container.seccomp.flags)] : [])];
  if (spec.init) {
    if (container.initPid !== undefined) throw new SandpodError('AlreadyExists', `container ${container.id} already runs its first process`);
    return ['--new', ...cgroup, ...container.maskedPaths.flatMap((p) => ['--mask', p]), ...container.readonlyPaths.flatMap((p) => ['--ro', p])];
  }
  if (container.initPid === undefined) throw new SandpodError('FailedPrecondition', `container ${container.id} is not running: start it before exec`);
  return ['--join', String(container.initPid), ...cgroup];
}

function credentialArgs(spec: ProcessSpec): string[] {
  const u = spec.user;
  return [
    ...(u ? ['--uid', String(u.uid), '--gid', String(u.gid), ...(u.groups?.length ? ['--groups', u.groups.join(',')] : [])] : []),
    ...(spec.capabilities ? ['--caps', capabilityMask(spec.capabilities)] : []),
    ...(spec.noNewPrivileges ? ['--no-new-privs'] : []),
  ];
}

function envObject(env: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of env) {
    const eq = kv.indexOf('=');
    if (eq > 0) out[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return out;
}

function signalName(n: number): string {
  const signals = constants.signals as Record<string, number>;
  return Object.keys(signals).find((k) => signals[k] === n) ?? `SIG${n}`;
}
