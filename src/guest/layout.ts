/**
 * Where things are inside the guest. The image builder puts them there and the agent relies on them,
 * so both read them from here.
 *
 * The initramfs is the agent's root: busybox, the modules, the init script, the agent bundle.
 * Node and the few dynamically linked tools the agent runs come from a read-only squashfs "runtime image"
 * on /dev/vda, mounted at RUNTIME_MOUNT and run through its own dynamic loader, so the initramfs stays small
 * and guest memory is not spent on a copy of Node.
 */
import type { GuestDevice } from '../protocol/index.js';

export { AGENT_PORT_NAME, INIT_MARKER, ROOTFS_TAG } from '../protocol/guest-contract.js';

export const RUNTIME_MOUNT = '/rt';
export const RUNTIME_LD_SO = `${RUNTIME_MOUNT}/lib64/ld-linux-x86-64.so.2`;
export const RUNTIME_LIB_PATH = `${RUNTIME_MOUNT}/lib/x86_64-linux-gnu`;
export const RUNTIME_NODE = `${RUNTIME_MOUNT}/bin/node`;
export const BUSYBOX = '/bin/busybox';
export const AGENT_DIR = '/agent';
export const AGENT_BUNDLE = `${AGENT_DIR}/agent.cjs`;
export const MOUNT_ROOTFS_SCRIPT = '/sbin/sandpod-mount-rootfs';
/** Gives a container root its /proc, /sys and /dev (sandpod-prepare-root ROOT). */
export const PREPARE_ROOT_SCRIPT = '/sbin/sandpod-prepare-root';
/** Starts a container process: namespaces, chroot, cgroup, user, capabilities (built from spawn.c). */
export const SPAWN_TOOL = '/sbin/sandpod-spawn';
/** cgroup v2, with the cpu, memory and pids controllers enabled for the containers' groups below it. */
export const CGROUP_ROOT = '/sys/fs/cgroup';
/** Reseeds the kernel RNG from stdin (built from reseed.c); run after a restore from a template. */
export const RESEED_TOOL = '/sbin/sandpod-reseed';
/** Guest devices a container may also get, as `sandpod-prepare-root` takes them (NAME:TYPE:MAJOR:MINOR). */
export const GUEST_DEVICE_NODES: Record<GuestDevice, string> = { 'net/tun': 'net/tun:c:10:200' };
/** A ready-made /dev for the sandbox (device nodes, pts and shm mount points, fd links), copied in on setup. */
export const SANDBOX_DEV_TEMPLATE = '/lib/sandpod/dev';
/** Where the agent mounts the 9p share: the container rootfs, or (for a pod) the directory holding each container's root. */
export const SANDBOX_ROOT = '/run/sandbox/rootfs';
/** On the runtime image: the modules the guest loads on demand and their tables (image/modules.ts). */
export const RUNTIME_MODULES_DIR = `${RUNTIME_MOUNT}/modules`;
/** The kernel's request_module helper (/proc/sys/kernel/modprobe): finds a module in those tables and loads it. */
export const MODPROBE_TOOL = '/sbin/sandpod-modprobe';
/** Modules loaded by init, in dependency order (names without .ko). */
export const GUEST_MODULES = [
  'virtio_ring', 'virtio', 'virtio_mmio', 'virtio_console', 'virtio_blk', 'squashfs',
  'netfs', 'fscache', '9pnet', '9pnet_virtio', '9p', 'failover', 'net_failover', 'virtio_net',
] as const;
