/**
 * The VMM layer: the `Vmm` interface, its QEMU implementation and the accelerator probe.
 * Knows nothing of sandboxes, pods or the guest agent's protocol; imports nothing of Sandpod's but errors/log.
 */
import type { Logger } from '../log.js';
import { QemuVmm } from './qemu/qemu-vmm.js';
import type { Vmm } from './vmm.js';

export * from './vmm.js';
export { chooseAccelerator, type AcceleratorVerdict, type ProbeGuest, KVM_DEVICE } from './probe.js';
export { QEMU_BINARY } from './qemu/qemu-vmm.js';

export type VmmKind = 'qemu';

export function createVmm(kind: VmmKind, log: Logger): Vmm {
  switch (kind) {
    case 'qemu': return new QemuVmm(log);
  }
}
