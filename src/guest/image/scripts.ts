/**
 * The shell scripts of the guest image, run by busybox: init (PID 1 until it execs the agent), the rootfs
 * mounter the agent calls on `setup`, the container root preparer, and the kernel's module loader. Mounting
 * needs syscalls Node does not offer, and the module loader runs while a syscall waits for it, hence shell.
 */
import {
  AGENT_BUNDLE, BUSYBOX, CGROUP_ROOT, GUEST_MODULES, INIT_MARKER, MODPROBE_TOOL, RUNTIME_LD_SO, RUNTIME_LIB_PATH, RUNTIME_MODULES_DIR, RUNTIME_MOUNT,
  RUNTIME_NODE, SANDBOX_DEV_TEMPLATE,
} from '../layout.js';

/** The device nodes a container's /dev gets: [name, major, minor]. Nothing else of the guest's devices. */
export const SANDBOX_DEVICES: [string, number, number][] = [
  ['null', 1, 3], ['zero', 1, 5], ['full', 1, 7], ['random', 1, 8], ['urandom', 1, 9], ['tty', 5, 0],
];
export const SANDBOX_DEV_LINKS: [string, string][] = [
  ['ptmx', 'pts/ptmx'], ['fd', '/proc/self/fd'], ['stdin', '/proc/self/fd/0'], ['stdout', '/proc/self/fd/1'], ['stderr', '/proc/self/fd/2'],
];

export function initScript(): string {
  return `#!${BUSYBOX} sh
${BUSYBOX} --install -s /bin
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in ${GUEST_MODULES.join(' ')}; do
  insmod /lib/modules/$m.ko || echo "sandpod-init: cannot load module $m"
done
mkdir -p /dev/pts /dev/shm ${RUNTIME_MOUNT} /run /tmp
mount -t devpts -o mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o mode=1777 shm /dev/shm
mount -t tmpfs -o mode=755 run /run
mount -t cgroup2 -o nsdelegate cgroup2 ${CGROUP_ROOT}
echo "+cpu +memory +pids" > ${CGROUP_ROOT}/cgroup.subtree_control || echo "sandpod-init: cannot enable cgroup controllers"
if ! mount -t squashfs -o ro /dev/vda ${RUNTIME_MOUNT}; then
  echo "sandpod-init: cannot mount the runtime image from /dev/vda"; poweroff -f
fi
echo ${MODPROBE_TOOL} > /proc/sys/kernel/modprobe
ip link set lo up
echo "${INIT_MARKER} $(cut -d' ' -f1 /proc/uptime)"
export UV_THREADPOOL_SIZE=8
exec ${RUNTIME_LD_SO} --library-path ${RUNTIME_LIB_PATH} ${RUNTIME_NODE} --max-semi-space-size=4 ${AGENT_BUNDLE}
`;
}

/** Usage: sandpod-mount-rootfs ROOT TAG. Mounts the 9p share TAG at ROOT. */
export function mountRootfsScript(): string {
  return `set -e
mkdir -p "$1"
mount -t 9p -o trans=virtio,version=9p2000.L,cache=mmap,msize=262144 "$2" "$1"
`;
}

/**
 * Usage: sandpod-prepare-root ROOT [--sys-rw] [NAME:TYPE:MAJOR:MINOR]... Gives a container root what a
 * container expects: /proc, /sys (read-only unless --sys-rw), a private /dev with the minimal set and the
 * devices named. Every line is a process under emulation, so the /dev skeleton comes ready-made from the
 * initramfs.
 */
export function prepareRootScript(): string {
  return `set -e
root=$1
shift
sys=ro
devices=
for a; do
  case $a in
    --sys-rw) sys=rw ;;
    *) devices="$devices $a" ;;
  esac
done
mkdir -p "$root/proc" "$root/sys" "$root/dev" "$root/tmp"
chmod 1777 "$root/tmp" 2>/dev/null || true
mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
mount -t sysfs -o $sys,nosuid,nodev,noexec sysfs "$root/sys"
mount -t tmpfs -o nosuid,mode=755,size=1024k dev "$root/dev"
cp -a ${SANDBOX_DEV_TEMPLATE}/. "$root/dev/"
for d in $devices; do
  IFS=:
  set -- $d
  unset IFS
  mkdir -p "$root/dev/$(dirname "$1")"
  mknod -m 666 "$root/dev/$1" "$2" "$3" "$4"
done
mount --bind /dev/pts "$root/dev/pts"
mount -t tmpfs -o nosuid,nodev,mode=1777 shm "$root/dev/shm"
`;
}

/**
 * Usage: sandpod-modprobe [-q] [--] NAME (the kernel's request_module calls it so). NAME is a module or an
 * alias ('rtnl-link-dummy', 'nfnetlink-subsys-10', 'fs-overlay'); the tables on the runtime image
 * (image/modules.ts) say which module and what to load before it. A module already loaded (or loading)
 * shows in /sys/module; a soft dependency ('?name') may fail to load.
 */
export function modprobeScript(): string {
  return `#!${BUSYBOX} sh
PATH=/bin
dir=${RUNTIME_MODULES_DIR}
quiet=
while [ $# -gt 0 ]; do
  case $1 in
    -q) quiet=1 ;;
    --) shift; break ;;
    -*) ;;
    *) break ;;
  esac
  shift
done
[ $# -ge 1 ] || { echo "usage: sandpod-modprobe [-q] [--] NAME" >&2; exit 1; }
order=$(awk -v want="$1" '
  FILENAME == ARGV[1] { if (alias == "" && want ~ $1) alias = $2; next }
  { line[$1] = $0 }
  END { m = want; gsub("-", "_", m); if (!(m in line)) m = alias; if (m == "" || !(m in line)) exit 1; print line[m] }
' "$dir/aliases" "$dir/load-order") || { [ -n "$quiet" ] || echo "sandpod-modprobe: no module or alias $1" >&2; exit 1; }
set -- $order
shift
for m; do
  name=\${m#\\?}
  [ -d "/sys/module/$name" ] && continue
  insmod "$dir/$name.ko" 2>/dev/null || [ -d "/sys/module/$name" ] || [ "$m" != "$name" ] || {
    echo "sandpod-modprobe: cannot load $name for $1" >&2; exit 1
  }
done
`;
}
