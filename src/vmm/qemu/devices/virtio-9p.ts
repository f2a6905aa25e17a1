import type { VmShare } from '../../vmm.js';

/**
 * A host directory shared with the guest over virtio-9p. `passthrough` keeps the rootfs's real ownership
 * (QEMU runs as root); `remap` keeps inode numbers unique when the directory spans several filesystems.
 */
export function virtio9pArgs(share: VmShare): string[] {
  return [
    '-fsdev', `local,id=${share.id},path=${share.path},security_model=passthrough,multidevs=remap`,
    '-device', `virtio-9p-device,fsdev=${share.id},mount_tag=${share.tag}`,
  ];
}
