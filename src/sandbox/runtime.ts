/**
 * The sandbox runtime: turns a sandbox spec (rootfs, size, hostname) into a running Sandbox, choosing the
 * accelerator once, building the guest image when needed, and cleaning up completely on any failure.
 */
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { describeError, invalid, notFound, SandpodError } from '../errors.js';
import type { Logger } from '../log.js';
import { sandboxRunDir, templatesDir, type SandpodPaths } from '../paths.js';
import { vmName } from '../pod-vm-identity.js';
import { AGENT_PORT_NAME, INIT_MARKER, ROOTFS_TAG, type Sysctls } from '../protocol/index.js';
import { sandboxVmConfig, TemplateStore, type GuestImage, type VmLayout } from './templates.js';
import { chooseAccelerator, createVmm, type AcceleratorChoice, type AcceleratorVerdict, type Vmm } from '../vmm/index.js';
import { Sandbox } from './sandbox.js';
import { localhostToGuest, readPodNetwork, unwireTap, VM_TAP, wireTap, type PodNetwork } from '../net/index.js';

export interface SandboxSpec {
  /** Defaults to a random 12-hex-digit id. */
  id?: string;
  rootfs: string;
  cpus: number;
  memoryMiB: number;
  hostname?: string;
  /** Seconds to wait for the guest agent; defaults by accelerator. */
  bootTimeoutS?: number;
  /** Start by restoring a saved template VM (made on first use) instead of booting. */
  fromTemplate?: boolean;
  /** `rootfs` holds the roots of the containers made with createContainer rather than being one rootfs. */
  shared?: boolean;
  /** A pod network namespace that CNI set up: the VM runs in it, wired to its eth0, and takes the pod's IP. */
  netns?: string;
  /** Namespaced sysctls of the pod, set in the guest once its network is up. */
  sysctls?: Sysctls;
}


export interface RuntimeOptions {
  /** The files a sandbox VM boots from (built by src/guest/image; the CLI wires the two together). */
  guestImage: () => Promise<GuestImage>;
  paths: SandpodPaths;
  log: Logger;
  accel?: AcceleratorChoice;
  vmm?: Vmm;
}

const ID_RE = /^[a-z0-9][a-z0-9_.-]{0,62}$/;
const DEFAULT_BOOT_TIMEOUT_S = { kvm: 15, tcg: 45 } as const;

export class SandboxRuntime {
  private readonly vmm: Vmm;
  private image: Promise<GuestImage> | undefined;
  private verdict: Promise<AcceleratorVerdict> | undefined;
  readonly templates: TemplateStore;

  constructor(private readonly o: RuntimeOptions) {
    this.vmm = o.vmm ?? createVmm('qemu', o.log);
    this.templates = new TemplateStore(templatesDir(o.paths), this.vmm, o.log);
  }

  guestImage(): Promise<GuestImage> {
    this.image ??= this.o.guestImage();
    return this.image;
  }

  accelerator(): Promise<AcceleratorVerdict> {
    this.verdict ??= (async () => {
      const img = await this.guestImage();
      return chooseAccelerator({
        choice: this.o.accel ?? 'auto',
        vmm: this.vmm,
        log: this.o.log,
        cacheFile: join(this.o.paths.cacheRoot, 'probe', 'accelerator.json'),
        guest: {
          kernel: img.vmlinux, kernelRelease: img.kernelRelease, initrd: img.initramfs,
          disks: [{ id: 'guestrt', path: img.runtimeImage, readOnly: true }],
          agentPortName: AGENT_PORT_NAME, marker: INIT_MARKER,
        },
      });
    })();
    return this.verdict;
  }

  vmmVersion(): Promise<string> { return this.vmm.version(); }

  /** Boots (or restores) a sandbox. Aborting `signal` stops a create in progress and cleans up after it. */
  async create(spec: SandboxSpec, signal?: AbortSignal): Promise<Sandbox> {
    const id = spec.id ?? randomBytes(6).toString('hex');
    const object = `sandbox/${id}`;
    if (!ID_RE.test(id)) throw invalid(object, 'a sandbox id is 1-63 lowercase letters, digits, ".", "_" or "-"');
    await checkRootfs(spec.rootfs, object);
    const [img, verdict] = [await this.guestImage(), await this.accelerator()];
    const runDir = sandboxRunDir(this.o.paths, id);
    try {
      await mkdir(runDir, { recursive: false });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new SandpodError('AlreadyExists', `a sandbox with id ${id} already exists`, { object });
      await mkdir(sandboxRunDir(this.o.paths, ''), { recursive: true });
      await mkdir(runDir);
    }
    const log = this.o.log.child({ sandbox: id });
    const bootTimeoutMs = (spec.bootTimeoutS ?? DEFAULT_BOOT_TIMEOUT_S[verdict.accel]) * 1000;
    const layout: VmLayout = { image: img, accel: verdict.accel, cpus: spec.cpus, memoryMiB: spec.memoryMiB, ...(spec.netns ? { nic: true } : {}) };
    let sandbox: Sandbox | undefined;
    try {
      const template = spec.fromTemplate ? await this.templates.ensure(layout, bootTimeoutMs) : undefined;
      let network: PodNetwork | undefined = spec.netns ? await readPodNetwork(spec.netns) : undefined;
      const started = Date.now();
      let config = sandboxVmConfig(vmName(id), runDir, layout, spec.rootfs);
      if (template) config = { ...config, memoryFile: { path: template.memory, shared: false }, incoming: true };
      if (spec.netns && network) config = { ...config, netns: spec.netns, nics: [{ id: 'net0', tap: VM_TAP, mac: network.mac }] };
      const vm = await this.vmm.start(config);
      sandbox = new Sandbox(id, vm, runDir, log);
      if (spec.netns) {
        const netns = spec.netns;
        sandbox.onDestroy(() => unwireTap(netns));
        await wireTap(netns);
        if (network) network = { ...network, node: await localhostToGuest(netns, network) };
      }
      const interrupt = (): void => { log.warn('create interrupted'); void vm.kill(); };
      if (signal?.aborted) interrupt();
      signal?.addEventListener('abort', interrupt, { once: true });
      if (template) await vm.restoreState(template.state);
      await sandbox.connectAgent(started, bootTimeoutMs);
      await sandbox.setup(spec.hostname ?? id, ROOTFS_TAG, Boolean(template), {
        ...(spec.shared ? { shared: true } : {}), ...(network ? { network } : {}), ...(spec.sysctls ? { sysctls: spec.sysctls } : {}),
      });
      signal?.removeEventListener('abort', interrupt);
      return sandbox;
    } catch (err) {
      const console = await consoleTail(join(runDir, 'console.log'));
      if (sandbox) await sandbox.destroy().catch(() => undefined);
      await rm(runDir, { recursive: true, force: true });
      if (signal?.aborted) throw new SandpodError('Unavailable', 'interrupted while starting; the VM was stopped and removed', { object, cause: err });
      const kind = err instanceof SandpodError ? err.kind : 'Internal';
      throw new SandpodError(kind, `${describeError(err).replace(`${object}: `, '')}${console ? `\n--- guest console (last lines) ---\n${console}` : ''}`, { object, cause: err });
    }
  }
}

async function checkRootfs(rootfs: string, object: string): Promise<void> {
  let st;
  try { st = await stat(rootfs); } catch {
    throw notFound(object, `rootfs ${rootfs} does not exist; pass a directory holding the container's root filesystem`);
  }
  if (!st.isDirectory()) throw invalid(object, `rootfs ${rootfs} is not a directory`);
}

async function consoleTail(path: string, lines = 15): Promise<string> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.trim().split('\n').slice(-lines).join('\n');
}
