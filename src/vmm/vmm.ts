/**
 * The VMM boundary. A `Vmm` starts VMs from a `VmConfig`; a `VmInstance` is one running VM process.
 * The sandbox runtime only sees these types: QEMU is one implementation (qemu/), others can sit beside it.
 */
export type Accelerator = 'kvm' | 'tcg';
export type AcceleratorChoice = Accelerator | 'auto';

export interface VmDisk { id: string; path: string; readOnly: boolean }
export interface VmShare { id: string; tag: string; path: string }
/**
 * A network interface the guest sees with `mac`, backed by the tap named `tap` in the VM's network
 * namespace; without a tap it is attached to nothing (a template's placeholder, rewired on restore).
 */
export interface VmNic { id: string; mac: string; tap?: string }

export interface VmConfig {
  /** Names the VM in logs and the process list. */
  name: string;
  accel: Accelerator;
  cpus: number;
  memoryMiB: number;
  kernel: string;
  initrd: string;
  cmdline: string;
  /** Everything the guest prints on its serial console goes here. */
  consoleLog: string;
  /** Unix socket QEMU listens on for QMP. */
  qmpSocket: string;
  /** Unix socket QEMU listens on for the agent's virtio-serial port. */
  agentSocket: string;
  agentPortName: string;
  disks: VmDisk[];
  shares: VmShare[];
  nics?: VmNic[];
  /** A network namespace (path) to run the VMM in, so its taps live there (a CNI pod's namespace). */
  netns?: string;
  /**
   * Guest RAM backed by a file. `shared` writes go to the file (a template being made); private mappings
   * copy a page on first write, so clones of one template share every page they have not touched.
   */
  memoryFile?: { path: string; shared: boolean };
  /** Start paused, waiting for a saved state to be restored into it. */
  incoming?: boolean;
}

export interface VmExit { code: number | null; signal: string | null; stderr: string }

export interface VmInstance {
  readonly pid: number;
  readonly config: VmConfig;
  /** Settles when the VM process has exited and been reaped. Never rejects. */
  readonly exited: Promise<VmExit>;
  /** Whether the process is still running. */
  running(): boolean;
  /** Asks the VMM to quit at once (guest state is discarded), then kills it if it does not. Always reaps. */
  stop(graceMs?: number): Promise<VmExit>;
  /** Kills the VM process with SIGKILL and reaps it. */
  kill(): Promise<VmExit>;
  /**
   * Pauses the VM and writes its device state to `statePath`. RAM in a shared memory file is left in the
   * file rather than copied. The VM stays paused; stop it afterwards.
   */
  saveState(statePath: string): Promise<void>;
  /** Loads a state saved by `saveState` into a VM started with `incoming`, and resumes it. */
  restoreState(statePath: string): Promise<void>;
}

export interface Vmm {
  readonly kind: string;
  start(config: VmConfig): Promise<VmInstance>;
  version(): Promise<string>;
}
