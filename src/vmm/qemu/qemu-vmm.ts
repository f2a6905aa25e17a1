/**
 * QEMU as Sandpod's VMM: spawns qemu-system-x86_64 with the microvm machine, keeps its stderr for error
 * messages, talks QMP, and always reaps the process.
 */
import { spawn, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { invalid, SandpodError, unavailable } from '../../errors.js';
import type { Logger } from '../../log.js';
import { waitUntil } from '../../wait.js';
import type { Vmm, VmConfig, VmExit, VmInstance } from '../vmm.js';
import { qemuArgs, type HostFacts } from './args.js';
import { readFileSync } from 'node:fs';

/** The host's TSC frequency in kHz, from /proc/cpuinfo (constant_tsc hosts report it as "cpu MHz"). */
export function hostTscKhz(cpuinfo = (): string => readFileSync('/proc/cpuinfo', 'utf8')): number | undefined {
  try {
    const m = /^cpu MHz\s*:\s*([\d.]+)/m.exec(cpuinfo());
    return m?.[1] ? Math.round(Number(m[1]) * 1000) : undefined;
  } catch {
    return undefined;
  }
}
import { QmpClient } from './qmp.js';

export const QEMU_BINARY = 'qemu-system-x86_64';

class QemuInstance implements VmInstance {
  readonly exited: Promise<VmExit>;
  private alive = true;
  private qmp: QmpClient | undefined;

  constructor(readonly pid: number, readonly config: VmConfig, exited: Promise<VmExit>, private readonly log: Logger) {
    this.exited = exited.then((e) => { this.alive = false; this.qmp?.close(); return e; });
  }

  running(): boolean { return this.alive; }

  async connectQmp(timeoutMs: number): Promise<QmpClient> {
    this.qmp = await waitUntil(() => QmpClient.connect(this.config.qmpSocket, this.config.name).catch(() => undefined), {
      timeoutMs,
      abort: () => (this.alive ? undefined : unavailable(this.config.name, 'QEMU exited before its QMP socket was up')),
      onTimeout: () => unavailable(this.config.name, `QMP socket ${this.config.qmpSocket} did not come up within ${timeoutMs} ms`),
    });
    return this.qmp;
  }

  private get control(): QmpClient {
    if (!this.qmp) throw unavailable(this.config.name, 'no QMP connection');
    return this.qmp;
  }

  /** x-ignore-shared: RAM blocks backed by a shared file are not copied into the state (both sides must agree). */
  private async ignoreShared(): Promise<void> {
    await this.control.execute('migrate-set-capabilities', { capabilities: [{ capability: 'x-ignore-shared', state: true }] });
  }

  private async waitMigration(what: string): Promise<void> {
    await waitUntil(async () => {
      const r = await this.control.execute<{ status?: string; 'error-desc'?: string }>('query-migrate');
      if (r.status === 'completed') return true;
      if (r.status === 'failed' || r.status === 'cancelled') {
        throw new SandpodError('Internal', `${what} failed: ${r['error-desc'] ?? r.status}`, { object: this.config.name });
      }
      return undefined;
    }, {
      timeoutMs: 60_000, intervalMs: 20,
      abort: () => (this.alive ? undefined : unavailable(this.config.name, `QEMU exited during ${what}`)),
      onTimeout: () => unavailable(this.config.name, `${what} did not complete within 60 s`),
    });
  }

  async saveState(statePath: string): Promise<void> {
    await this.control.execute('stop');
    if (this.config.memoryFile?.shared) await this.ignoreShared();
    await this.control.execute('migrate', { uri: `exec:cat > ${shellQuote(statePath)}` });
    await this.waitMigration('saving the VM state');
  }

  async restoreState(statePath: string): Promise<void> {
    if (this.config.memoryFile) await this.ignoreShared();
    await this.control.execute('migrate-incoming', { uri: `exec:cat ${shellQuote(statePath)}` });
    await this.waitMigration('restoring the VM state');
    await this.control.execute('cont');
  }

  async stop(graceMs = 2000): Promise<VmExit> {
    if (!this.alive) return this.exited;
    this.qmp?.execute('quit').catch(() => undefined);
    const timer = setTimeout(() => { if (this.alive) this.signal('SIGKILL'); }, this.qmp ? graceMs : 0);
    const e = await this.exited;
    clearTimeout(timer);
    return e;
  }

  kill(): Promise<VmExit> {
    if (this.alive) this.signal('SIGKILL');
    return this.exited;
  }

  private signal(sig: NodeJS.Signals): void {
    try { process.kill(this.pid, sig); } catch (err) { this.log.debug('signal failed', { pid: this.pid, err }); }
  }
}

/**
 * TCG's translation cache per VM, in MiB: SANDPOD_TCG_CACHE_MIB (0: QEMU's default of 1 GiB), else
 * DEFAULT_TCG_CACHE_MIB (docs/sandbox.md has the measurement).
 */
export const DEFAULT_TCG_CACHE_MIB = 0;
export function tcgCacheMiB(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env['SANDPOD_TCG_CACHE_MIB'];
  const n = raw === undefined || raw === '' ? DEFAULT_TCG_CACHE_MIB : Number(raw);
  if (!Number.isInteger(n) || n < 0) throw invalid('qemu', `SANDPOD_TCG_CACHE_MIB=${raw ?? ''} is not a size in MiB; give a whole number (0 for QEMU's default)`);
  return n === 0 ? undefined : n;
}

const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

export class QemuVmm implements Vmm {
  readonly kind = 'qemu';

  private readonly host: HostFacts;

  constructor(private readonly log: Logger, private readonly binary = QEMU_BINARY) {
    this.host = { tscKhz: hostTscKhz(), tcgCacheMiB: tcgCacheMiB() };
  }

  async version(): Promise<string> {
    const { stdout } = await promisify(execFile)(this.binary, ['--version']);
    return /version\s+(\S+)/.exec(stdout)?.[1] ?? stdout.split('\n')[0] ?? 'unknown';
  }

  async start(config: VmConfig): Promise<VmInstance> {
    const args = qemuArgs(config, this.host);
    this.log.debug('starting qemu', { vm: config.name, args });
    // setpriv and nsenter exec (no fork), so the pid is QEMU's own. The parent-death signal ends the VM with the
    // process that owns it (a shim, a sandbox monitor): no VM outlives its owner, even one killed with -9.
    const qemu = config.netns ? ['nsenter', `--net=${config.netns}`, '--', this.binary, ...args] : [this.binary, ...args];
    const child = spawn('setpriv', ['--pdeathsig', 'SIGKILL', '--', ...qemu], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => { stderr = (stderr + d).slice(-4000); });
    const exited = new Promise<VmExit>((resolve) => {
      child.on('close', (code, signal) => resolve({ code, signal, stderr: stderr.trim() }));
    });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('spawn', () => resolve(child.pid as number));
      child.once('error', (err) => reject(new SandpodError('Unavailable', `cannot start ${this.binary}: ${err.message}; run scripts/setup to install QEMU`, { object: config.name, cause: err })));
    });
    const vm = new QemuInstance(pid, config, exited, this.log.child({ vm: config.name, pid }));
    this.log.info('qemu started', { vm: config.name, pid, accel: config.accel, cpus: config.cpus, memoryMiB: config.memoryMiB });
    try {
      await vm.connectQmp(10_000);
    } catch (err) {
      await vm.kill();
      const e = await vm.exited;
      throw unavailable(config.name, `QEMU did not start: ${e.stderr || (err instanceof Error ? err.message : String(err))}`, err);
    }
    return vm;
  }
}
