/**
 * What a task's OCI spec asks of the guest, checked here at the shim's edge before anything is mounted or
 * booted: a read-only root and the guest mounts that keep its writable volumes writable, the pod's memory
 * volumes, /sys read-write (a privileged spec), guest devices (a VM pod never gets a host device), the
 * pod's namespaced sysctls, and the seccomp filter. Pure: the host mounts and the guest do what the plan says.
 */
import { posix } from 'node:path';
import { z } from 'zod';
import { invalid } from '../errors.js';
import {
  sysctlsSchema, volumeNameSchema, type ContainerSpec, type GuestDevice, type GuestMount, type Sysctls,
} from '../protocol/index.js';
import type { OciMount, OciSpec } from './oci.js';
import { compileSeccomp } from './seccomp/compile.js';

/**
 * The node agent's pod annotation (containerd passes `sandpod.io/*` to the sandpod-vm runtime): the pod's
 * memory-backed emptyDir volumes, `{"<volume name>": <size limit in bytes, 0 for none>}`.
 */
export const MEMORY_VOLUMES_ANNOTATION = 'sandpod.io/memory-volumes';
/** How kubelet (and the node agent) name an emptyDir volume's host directory: `…/kubernetes.io~empty-dir/<name>`. */
const EMPTY_DIR = '/kubernetes.io~empty-dir/';

const memoryVolumesSchema = z.record(z.string(), z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER));

/** The pod's memory volumes and their size limits (0: none), from the annotation; none without it. */
export function memoryVolumes(spec: OciSpec, object: string): Map<string, number> {
  const text = spec.annotations?.[MEMORY_VOLUMES_ANNOTATION];
  if (text === undefined) return new Map();
  let json: unknown;
  try { json = JSON.parse(text); } catch (err) {
    throw invalid(object, `annotation ${MEMORY_VOLUMES_ANNOTATION} is not JSON (${(err as Error).message}); the node agent writes {"<volume>": <bytes>}`);
  }
  const parsed = memoryVolumesSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalid(object, `annotation ${MEMORY_VOLUMES_ANNOTATION} must map volume names to size limits in bytes (0: none): ${issue?.path.join('.') || 'value'} ${issue?.message}`);
  }
  for (const name of Object.keys(parsed.data)) {
    const ok = volumeNameSchema.safeParse(name);
    if (!ok.success) throw invalid(object, `annotation ${MEMORY_VOLUMES_ANNOTATION} names the volume "${name}", which ${ok.error.issues[0]?.message}`);
  }
  return new Map(Object.entries(parsed.data));
}

/** The memory volume (and subPath) a host path names, when it is one of the pod's memory volumes. */
export function memoryVolumeOf(source: string, volumes: Map<string, number>, object: string): { volume: string; subPath?: string } | undefined {
  const at = source.indexOf(EMPTY_DIR);
  if (at < 0) return undefined;
  const [volume = '', ...rest] = source.slice(at + EMPTY_DIR.length).split('/').filter(Boolean);
  if (!volumes.has(volume)) return undefined;
  if (rest.some((p) => p === '.' || p === '..')) throw invalid(object, `the subPath ${rest.join('/')} of memory volume ${volume} leaves the volume`);
  return rest.length > 0 ? { volume, subPath: rest.join('/') } : { volume };
}

/** Destinations the guest provides itself (a host file below /dev is bound again on top of the guest's). */
const GUEST_OWNED = ['/proc', '/sys', '/dev'];
const below = (path: string, dir: string): boolean => path === dir || path.startsWith(`${dir}/`);
const strictlyBelow = (path: string, dir: string): boolean => path.startsWith(`${dir}/`);

/** A bind mount of a host file or directory (CRI's /etc/hosts and volumes), as opposed to proc, tmpfs, … */
export const isHostBind = (m: OciMount): boolean =>
  Boolean(m.source) && (m.type === 'bind' || (m.options ?? []).some((o) => o === 'bind' || o === 'rbind'));

/** Sysctls a runtime may set in a pod's namespaces (runc's list): IPC, UTS and network ones. */
const NAMESPACED_SYSCTLS = new Set([
  'kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced',
  'kernel.hostname', 'kernel.domainname',
]);
const NAMESPACED_PREFIXES = ['fs.mqueue.', 'net.'];

export function isNamespacedSysctl(name: string): boolean {
  const dotted = name.replace(/\//g, '.');
  return NAMESPACED_SYSCTLS.has(dotted) || NAMESPACED_PREFIXES.some((p) => dotted.startsWith(p));
}

/**
 * The spec's sysctls, each one namespaced: the VM's kernel is the pod's namespaces, so those apply to the
 * pod; any other would be a node-level knob, which a pod may not set. Undefined when there are none.
 */
export function specSysctls(spec: OciSpec, object: string): Sysctls | undefined {
  const raw = spec.linux?.sysctl;
  if (!raw || Object.keys(raw).length === 0) return undefined;
  const parsed = sysctlsSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalid(object, `sysctl ${issue?.path.join('.') ?? ''} is not usable: ${issue?.message}`);
  }
  for (const name of Object.keys(parsed.data)) {
    if (!isNamespacedSysctl(name)) {
      throw invalid(object, `sysctl ${name} is not namespaced: it is a setting of the whole kernel, which a pod may not change; a pod may set kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.* and net.* sysctls`);
    }
  }
  return parsed.data;
}

/** Device nodes the guest gives every container anyway: the spec may name them, at their usual paths. */
const MINIMAL_DEVICES: Record<string, [string, number, number]> = {
  '/dev/null': ['c', 1, 3], '/dev/zero': ['c', 1, 5], '/dev/full': ['c', 1, 7], '/dev/random': ['c', 1, 8], '/dev/urandom': ['c', 1, 9], '/dev/tty': ['c', 5, 0],
};
/** Host devices whose guest counterpart is harmless (it reaches nothing outside the VM): the guest's own is given. */
const GUEST_COUNTERPARTS: Record<string, [string, number, number, GuestDevice]> = { '/dev/net/tun': ['c', 10, 200, 'net/tun'] };

/**
 * Guest devices for the spec: the harmless ones it names (tun), and tun for a container that may administer
 * the network. Any other device in `linux.devices` is a host device, which a VM pod never gets.
 */
export function guestDevices(spec: OciSpec, object: string): GuestDevice[] {
  const out = new Set<GuestDevice>();
  for (const d of spec.linux?.devices ?? []) {
    const same = (want: [string, number, number]): boolean => want[0] === d.type && want[1] === d.major && want[2] === d.minor;
    const minimal = MINIMAL_DEVICES[d.path];
    const counterpart = GUEST_COUNTERPARTS[d.path];
    if (minimal && same(minimal)) continue;
    if (counterpart && same([counterpart[0], counterpart[1], counterpart[2]])) { out.add(counterpart[3]); continue; }
    throw invalid(object, `the spec asks for the host device ${d.path} (${d.type} ${d.major ?? '?'}:${d.minor ?? '?'}); a VM pod gets no host devices: remove it from the container's devices (or volumeDevices), or run the pod with runc`);
  }
  const caps = spec.process.capabilities?.bounding ?? spec.process.capabilities?.effective ?? [];
  if (caps.includes('CAP_NET_ADMIN')) out.add('net/tun');
  return [...out];
}

/** Where each of the spec's mounts is made. */
export interface MountPlan {
  /** Host binds done on the host, into the rootfs; the 9p share carries them to the guest. */
  hostBinds: OciMount[];
  /** Destinations the guest mounts over (memory volumes): made as directories in the rootfs, nothing bound. */
  guestTargets: string[];
  /** Mounts the guest makes, in order. */
  guest: GuestMount[];
}

/**
 * Sorts the spec's mounts: memory volumes to the guest, other host binds to the host (and, under a read-only
 * root, writable ones also get a guest mount of their own, so they stay writable when the root is remounted
 * read-only: inside the guest the root and every host bind below it are one 9p mount). A mount below a
 * memory volume, or a memory volume below another mount, is refused: the guest would have to follow paths
 * that other containers of the pod can change.
 */
export function planMounts(spec: OciSpec, object: string): MountPlan {
  const volumes = memoryVolumes(spec, object);
  const readonlyRoot = spec.root?.readonly === true;
  const plan: MountPlan = { hostBinds: [], guestTargets: [], guest: [] };
  const memory: { destination: string; volume: string }[] = [];
  const others: string[] = [];
  for (const m of spec.mounts ?? []) {
    if (!isHostBind(m) || !m.source) continue;
    const destination = posix.normalize(m.destination);
    const ro = (m.options ?? []).includes('ro');
    const mem = memoryVolumeOf(m.source, volumes, object);
    if (mem) {
      if (GUEST_OWNED.some((d) => below(destination, d)) && !below(destination, '/dev')) {
        throw invalid(object, `memory volume ${mem.volume} cannot be mounted at ${destination}: the guest provides /proc and /sys itself`);
      }
      memory.push({ destination, volume: mem.volume });
      plan.guestTargets.push(destination);
      plan.guest.push({ kind: 'memory', destination, volume: mem.volume, sizeBytes: volumes.get(mem.volume) ?? 0, readonly: ro, ...(mem.subPath ? { subPath: mem.subPath } : {}) });
      continue;
    }
    // containerd binds the sandbox's /dev/shm into each container; in a VM the guest's own /dev/shm serves.
    if (destination === '/dev/shm') continue;
    if (below(destination, '/proc') || below(destination, '/sys') || destination === '/dev') {
      throw invalid(object, `the host path ${m.source} cannot be mounted at ${destination} in a VM pod: the guest provides /proc, /sys and /dev itself; mount it elsewhere`);
    }
    others.push(destination);
    plan.hostBinds.push(m);
    // Below /dev the guest's own /dev tmpfs covers what came over 9p: the guest binds it again on top.
    if (strictlyBelow(destination, '/dev')) plan.guest.push({ kind: 'dev', destination, readonly: ro });
    else if (readonlyRoot && !ro) plan.guest.push({ kind: 'writable', destination });
  }
  for (const v of memory) {
    const nested = [...others, ...memory.filter((o) => o !== v).map((o) => o.destination)].find((d) => strictlyBelow(d, v.destination));
    if (nested) throw invalid(object, `${nested} is mounted inside memory volume ${v.volume} (${v.destination}); a VM pod does not nest mounts in a memory volume: mount it elsewhere`);
    const outer = others.find((d) => strictlyBelow(v.destination, d));
    if (outer) throw invalid(object, `memory volume ${v.volume} (${v.destination}) is mounted inside the volume at ${outer}; a VM pod does not nest a memory volume in another volume: mount it elsewhere`);
  }
  return plan;
}

/** The spec's /sys is read-write (a privileged container's spec says so); read-only otherwise, and by default. */
export const writableSysfs = (spec: OciSpec): boolean => {
  const sys = spec.mounts?.find((m) => posix.normalize(m.destination) === '/sys');
  return sys !== undefined && !(sys.options ?? []).includes('ro');
};

/** The container's seccomp profile compiled for the guest (none for Unconfined and privileged containers). */
export function guestSeccomp(spec: OciSpec, object: string): ContainerSpec['seccomp'] {
  if (spec.linux?.seccomp === undefined || spec.linux.seccomp === null) return undefined;
  const { program, flags } = compileSeccomp(spec.linux.seccomp, object);
  return { program: program.toString('base64'), flags };
}

/** Everything create-container needs from the spec besides the container's id, root and limits. */
export function guestContainerSpec(spec: OciSpec, plan: MountPlan, object: string): Pick<ContainerSpec, 'readonlyRoot' | 'writableSysfs' | 'devices' | 'mounts' | 'sysctls' | 'seccomp' | 'maskedPaths' | 'readonlyPaths'> {
  const paths = (list: string[] | null | undefined, what: string): string[] => (list ?? []).map((p) => {
    const n = posix.normalize(p);
    if (!n.startsWith('/') || n === '/') throw invalid(object, `linux.${what} names "${p}"; it must be an absolute path below /`);
    return n;
  });
  const [maskedPaths, readonlyPaths] = [paths(spec.linux?.maskedPaths, 'maskedPaths'), paths(spec.linux?.readonlyPaths, 'readonlyPaths')];
  const devices = guestDevices(spec, object);
  const sysctls = specSysctls(spec, object);
  const seccomp = guestSeccomp(spec, object);
  return {
    ...(spec.root?.readonly ? { readonlyRoot: true } : {}),
    ...(writableSysfs(spec) ? { writableSysfs: true } : {}),
    ...(devices.length ? { devices } : {}),
    ...(plan.guest.length ? { mounts: plan.guest } : {}),
    ...(sysctls ? { sysctls } : {}),
    ...(seccomp ? { seccomp } : {}),
    ...(maskedPaths.length ? { maskedPaths } : {}),
    ...(readonlyPaths.length ? { readonlyPaths } : {}),
  };
}
