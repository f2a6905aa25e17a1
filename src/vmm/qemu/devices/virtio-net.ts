import type { VmNic } from '../../vmm.js';

/**
 * A virtio-net device. With a tap, QEMU opens (and creates, non-persistent) it in its network namespace;
 * without one, the device hangs off an empty hub port: it exists, so a template's device list matches its
 * clones', but nothing it sends goes anywhere.
 */
export function virtioNetArgs(nic: VmNic): string[] {
  return [
    '-netdev', nic.tap ? `tap,id=${nic.id},ifname=${nic.tap},script=no,downscript=no` : `hubport,id=${nic.id},hubid=0`,
    '-device', `virtio-net-device,netdev=${nic.id},mac=${nic.mac}`,
  ];
}
