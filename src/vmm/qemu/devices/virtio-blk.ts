import type { VmDisk } from '../../vmm.js';

/** A raw disk image as a virtio-blk MMIO device. Disks appear as /dev/vda, vdb… in the order given. */
export function virtioBlkArgs(disk: VmDisk): string[] {
  return [
    '-drive', `id=${disk.id},file=${disk.path},format=raw,if=none,readonly=${disk.readOnly ? 'on' : 'off'}`,
    '-device', `virtio-blk-device,drive=${disk.id}`,
  ];
}
