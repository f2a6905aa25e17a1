/**
 * What the host must know about the guest image to boot it: the names both sides agree on.
 */
/** Name of the virtio-serial port the agent talks on (sysfs `name` attribute in the guest). */
export const AGENT_PORT_NAME = 'sandpod.agent.0';
/** 9p mount tag of the container rootfs. */
export const ROOTFS_TAG = 'rootfs';
/** Printed on the serial console by the guest's init once userspace runs; the accelerator probe looks for it. */
export const INIT_MARKER = 'sandpod-guest-init';
/** In the guest image cache: JSON naming the newest built image's kernel, initramfs and runtime image. */
export const CURRENT_IMAGE_FILE = 'current.json';
