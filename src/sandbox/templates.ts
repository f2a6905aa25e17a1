/**
 * VM templates for fast start (Kata's "VM templating"): boot one VM per (guest image, accelerator, vCPUs,
 * memory) with its RAM in a shared file, wait for the agent, save the device state, and start each sandbox by
 * restoring that state over a private mapping of the same file. Clones share every page they do not write.
 * The template is saved before the guest mounts anything (a mounted 9p share would block the save); each
 * clone then gets its own rootfs, hostname, clock and entropy from `setup`.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import { AGENT_PORT_NAME, ROOTFS_TAG } from '../protocol/index.js';
import type { Accelerator, Vmm, VmConfig } from '../vmm/index.js';
import { Sandbox } from './sandbox.js';

export interface GuestImage {
  kernelRelease: string;
  vmlinux: string;
  initramfs: string;
  runtimeImage: string;
}

/** What makes two VMs interchangeable for restoring: same image, accelerator and size. */
export interface VmLayout {
  image: GuestImage; accel: Accelerator; cpus: number; memoryMiB: number;
  /** A network interface (a pod on a CNI network); the guest takes the pod's MAC and addresses at setup. */
  nic?: boolean;
}

/** The MAC a template's interface is saved with; a clone's guest replaces it with its pod's. */
export const TEMPLATE_MAC = '02:53:50:00:00:01';

/** The device list of every sandbox VM. Templates and their clones must agree on it exactly. */
export function sandboxVmConfig(name: string, dir: string, layout: VmLayout, rootfs: string): VmConfig {
  return {
    ...(layout.nic ? { nics: [{ id: 'net0', mac: TEMPLATE_MAC }] } : {}),
    name, accel: layout.accel, cpus: layout.cpus, memoryMiB: layout.memoryMiB,
    kernel: layout.image.vmlinux, initrd: layout.image.initramfs, cmdline: '',
    consoleLog: join(dir, 'console.log'), qmpSocket: join(dir, 'qmp.sock'), agentSocket: join(dir, 'agent.sock'),
    agentPortName: AGENT_PORT_NAME,
    disks: [{ id: 'guestrt', path: layout.image.runtimeImage, readOnly: true }],
    shares: [{ id: 'rootfs', tag: ROOTFS_TAG, path: rootfs }],
  };
}

export interface VmTemplate { dir: string; memory: string; state: string }

const exists = (p: string): Promise<boolean> => stat(p).then(() => true, () => false);

export class TemplateStore {
  private readonly building = new Map<string, Promise<VmTemplate>>();

  constructor(private readonly root: string, private readonly vmm: Vmm, private readonly log: Logger) {}

  async key(layout: VmLayout): Promise<string> {
    const h = createHash('sha256');
    h.update(JSON.stringify([layout.image, layout.accel, layout.cpus, layout.memoryMiB, Boolean(layout.nic), await this.vmm.version()]));
    return h.digest('hex').slice(0, 16);
  }

  /** The template for `layout`, made now if there is none (one boot, then a save). */
  async ensure(layout: VmLayout, bootTimeoutMs: number): Promise<VmTemplate> {
    const key = await this.key(layout);
    const dir = join(this.root, key);
    const tpl: VmTemplate = { dir, memory: join(dir, 'memory'), state: join(dir, 'state') };
    if (await exists(tpl.state)) return tpl;
    let pending = this.building.get(key);
    if (!pending) {
      pending = this.make(key, layout, tpl, bootTimeoutMs).finally(() => this.building.delete(key));
      this.building.set(key, pending);
    }
    return pending;
  }

  private async make(key: string, layout: VmLayout, tpl: VmTemplate, bootTimeoutMs: number): Promise<VmTemplate> {
    await mkdir(this.root, { recursive: true });
    const tmp = await mkdtemp(join(this.root, `.${key}-`));
    const log = this.log.child({ template: key });
    const started = Date.now();
    try {
      await mkdir(join(tmp, 'empty-rootfs'));
      await writeFile(join(tmp, 'memory'), '');
      const config: VmConfig = {
        ...sandboxVmConfig(`sandpod-template-${key}`, tmp, layout, join(tmp, 'empty-rootfs')),
        memoryFile: { path: join(tmp, 'memory'), shared: true },
      };
      const vm = await this.vmm.start(config);
      try {
        const template = new Sandbox(`template-${key}`, vm, tmp, log);
        await template.connectAgent(started, bootTimeoutMs);
        template.release();
        await vm.saveState(join(tmp, 'state'));
      } finally {
        await vm.kill();
      }
      for (const f of ['console.log', 'agent.sock', 'qmp.sock']) await rm(join(tmp, f), { force: true });
      try {
        await rename(tmp, tpl.dir);
      } catch (err) {
        if (!(await exists(tpl.state))) throw err; // another process made the same template first
      }
      log.info('template saved', { ms: Date.now() - started, dir: tpl.dir });
      return tpl;
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }

  /** Removes every template (they are rebuilt on demand). */
  async clear(): Promise<void> { await rm(this.root, { recursive: true, force: true }); }
}
