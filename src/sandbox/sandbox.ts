/**
 * One sandbox: a VM with its own kernel, the guest agent in it, and the container rootfs shared over 9p.
 * Its lifecycle is an explicit state machine: creating → running → stopping → stopped.
 */
import { connect, type Socket } from 'node:net';
import { rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { containerStatsSchema, type ContainerLimits, type ContainerSpec, type ContainerStats, type GuestNetwork, type ReadyInfo, type ProcessSpec, type Sysctls } from '../protocol/index.js';
import { failedPrecondition, SandpodError, timeout, unavailable } from '../errors.js';
import type { Logger } from '../log.js';
import { waitUntil } from '../wait.js';
import type { VmExit, VmInstance } from '../vmm/index.js';
import { AgentClient, type ProcessHandle, type ProcessIo } from './agent-client.js';

export type SandboxState = 'creating' | 'running' | 'stopping' | 'stopped';

const transitions: Record<SandboxState, SandboxState[]> = {
  creating: ['running', 'stopping', 'stopped'],
  running: ['stopping', 'stopped'],
  stopping: ['stopped'],
  stopped: [],
};

export interface SandboxInfo {
  id: string;
  state: SandboxState;
  vmPid: number;
  cpus: number;
  memoryMiB: number;
  accel: string;
  runDir: string;
  consoleLog: string;
  ready: ReadyInfo | undefined;
  /** Milliseconds from VM launch to the agent's first answer. */
  bootToReadyMs: number | undefined;
}

export class Sandbox {
  private stateValue: SandboxState = 'creating';
  private agentClient: AgentClient | undefined;
  private readyInfo: ReadyInfo | undefined;
  private readyMs: number | undefined;
  private vmExit: VmExit | undefined;
  private destroying: Promise<void> | undefined;
  private readonly cleanups: (() => Promise<void>)[] = [];

  constructor(
    readonly id: string,
    readonly vm: VmInstance,
    readonly runDir: string,
    private readonly log: Logger,
  ) {
    void vm.exited.then((e) => this.onVmExit(e));
  }

  get object(): string { return `sandbox/${this.id}`; }
  get state(): SandboxState { return this.stateValue; }
  get agent(): AgentClient {
    if (!this.agentClient) throw failedPrecondition(this.object, 'the guest agent is not connected yet');
    return this.agentClient;
  }

  info(): SandboxInfo {
    return {
      id: this.id, state: this.stateValue, vmPid: this.vm.pid, cpus: this.vm.config.cpus, memoryMiB: this.vm.config.memoryMiB,
      accel: this.vm.config.accel, runDir: this.runDir, consoleLog: this.vm.config.consoleLog, ready: this.readyInfo, bootToReadyMs: this.readyMs,
    };
  }

  private transition(to: SandboxState): void {
    if (!transitions[this.stateValue].includes(to)) {
      throw failedPrecondition(this.object, `cannot go from ${this.stateValue} to ${to}`);
    }
    this.log.debug('state', { from: this.stateValue, to });
    this.stateValue = to;
  }

  /** Connects to the agent and waits until it answers, or fails with what the console log says. */
  async connectAgent(startedAt: number, deadlineMs: number): Promise<ReadyInfo> {
    const socket = await waitUntil(() => connectUnix(this.vm.config.agentSocket), {
      timeoutMs: 5000,
      abort: () => this.deathError(),
      onTimeout: () => unavailable(this.object, `cannot connect to the agent socket ${this.vm.config.agentSocket}`),
    });
    const client = new AgentClient(socket, this.object);
    this.agentClient = client;
    let timer: NodeJS.Timeout | undefined;
    try {
      const info = await Promise.race([
        client.hello(),
        this.vm.exited.then(() => { throw this.deathError() as Error; }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(timeout(this.object,
            `the guest agent did not become ready within ${deadlineMs / 1000} s; the guest console is in ${this.vm.config.consoleLog}. ` +
            `Under TCG a loaded machine boots slowly: retry with a longer --boot-timeout, or check 'sandpod doctor'`)), deadlineMs);
        }),
      ]);
      this.readyInfo = info;
      this.readyMs = Date.now() - startedAt;
      this.log.info('guest agent ready', { kernel: info.kernel, guestBootMs: info.bootMs, bootToReadyMs: this.readyMs });
      return info;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Mounts the rootfs (or the share of container roots) in the guest and applies the pod network and
   * sysctls; a restored VM also gets the time and fresh entropy.
   */
  async setup(hostname: string, rootfsTag: string, restored: boolean, extra: { shared?: boolean; network?: GuestNetwork; sysctls?: Sysctls } = {}): Promise<void> {
    await this.agent.request({
      type: 'setup', hostname, rootfsTag, ...extra,
      ...(restored ? { clockMs: Date.now(), entropy: randomBytes(64).toString('base64') } : {}),
    });
    this.transition('running');
  }

  /** Runs after the VM has stopped, when the sandbox is destroyed (network wiring, host mounts). */
  onDestroy(cleanup: () => Promise<void>): void { this.cleanups.push(cleanup); }

  /** A container in a sandbox set up as shared: its root (below the share), its cgroup limits. */
  async createContainer(spec: ContainerSpec): Promise<void> {
    if (this.stateValue !== 'running') throw failedPrecondition(this.object, `cannot create container ${spec.id} in a sandbox that is ${this.stateValue}`);
    await this.agent.request({ type: 'create-container', container: spec });
  }

  async updateContainer(id: string, limits: ContainerLimits): Promise<void> {
    if (this.stateValue !== 'running') throw failedPrecondition(this.object, `cannot update container ${id}: the sandbox is ${this.stateValue}`);
    await this.agent.request({ type: 'update-container', container: id, limits });
  }

  async containerStats(id: string): Promise<ContainerStats> {
    if (this.stateValue !== 'running') throw failedPrecondition(this.object, `no stats for container ${id}: the sandbox is ${this.stateValue}`);
    return containerStatsSchema.parse(await this.agent.request({ type: 'container-stats', container: id }));
  }

  /** Kills what still runs in the container and releases its root and cgroup in the guest. */
  async removeContainer(id: string): Promise<void> {
    if (this.stateValue !== 'running') return;
    await this.agent.request({ type: 'remove-container', container: id });
  }

  async exec(spec: ProcessSpec, io: ProcessIo): Promise<ProcessHandle> {
    if (this.stateValue !== 'running') throw failedPrecondition(this.object, `cannot exec in a sandbox that is ${this.stateValue}`);
    return this.agent.startProcess(spec, io);
  }

  /** Marks the VM's end as expected without tearing anything down (a template VM, killed after its save). */
  release(): void {
    this.agentClient?.close();
    if (this.stateValue === 'creating' || this.stateValue === 'running') this.transition('stopping');
  }

  /** Stops the VM (asking the guest to power off first when it can) and removes the sandbox's runtime files. */
  destroy(): Promise<void> {
    this.destroying ??= this.doDestroy();
    return this.destroying;
  }

  private async doDestroy(): Promise<void> {
    if (this.stateValue !== 'stopped') this.transition('stopping');
    // The guest syncs and answers, then QEMU quits: the guest kernel's own power-off cost about 0.4 s of CPU per VM
    // under TCG (24 churn cycles: QEMU 73 s, then 68 s with a template build) and leaves nothing the host needs.
    if (this.vm.running() && this.agentClient && !this.agentClient.closed) {
      await Promise.race([this.agentClient.request({ type: 'shutdown' }).catch(() => undefined), sleep(1500)]);
    }
    await this.vm.stop(2000);
    this.agentClient?.close();
    for (const cleanup of this.cleanups.splice(0)) await cleanup().catch((err: unknown) => this.log.warn('cleanup failed', { err }));
    await rm(this.runDir, { recursive: true, force: true });
    if (this.stateValue !== 'stopped') this.transition('stopped');
    this.log.info('sandbox destroyed');
  }

  private onVmExit(e: VmExit): void {
    this.vmExit = e;
    const err = this.deathError();
    if (this.stateValue !== 'stopping' && this.stateValue !== 'stopped' && err) {
      this.log.warn('vm exited unexpectedly', { code: e.code, signal: e.signal, stderr: e.stderr });
      this.agentClient?.shutdownWith(err);
      this.stateValue = 'stopped';
    }
  }

  /** The error to report when the VM is gone, or undefined while it runs. */
  deathError(): SandpodError | undefined {
    if (this.vm.running() && !this.vmExit) return undefined;
    const e = this.vmExit;
    const how = e ? (e.signal ? `was killed by ${e.signal}` : `exited with code ${e.code}`) : 'exited';
    const detail = e?.stderr ? `: ${e.stderr.split('\n').slice(-2).join(' ')}` : '';
    return unavailable(this.object, `the sandbox VM (QEMU pid ${this.vm.pid}) ${how}${detail}; the guest console is in ${this.vm.config.consoleLog}`);
  }
}

function connectUnix(path: string): Promise<Socket | undefined> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => resolve(s));
    s.once('error', () => resolve(undefined));
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());
