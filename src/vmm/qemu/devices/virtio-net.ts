import type { VmNic } from '../../vmm.js';

/** A virtio-net device backed by a tap QEMU opens (and creates, non-persistent) in its network namespace. */
export function virtioNetArgs(nic: VmNic): string[] {
  return [
    '-netdev', `tap,id=${nic.id},ifname=${nic.ifname},script=no,downscript=no`,
    '-device', `virtio-net-device,netdev=${nic.id},mac=${nic.mac}`,
  ];
}
