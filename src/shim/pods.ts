/**
 * The VM behind a group of tasks. A CRI pod is one group: its sandbox (pause) container is the VM itself,
 * sized from the pod's CRI annotations and joined to the pod's network namespace, and each app container
 * gets its root filesystem bind-mounted into the VM's 9p share. A task created outside CRI (`ctr run`) is
 * a group of its own, in a VM sized from the container's resources.
 */
import { lstat, mkdir, rmdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { invalid } from '../errors.js';
import { type SandpodPaths } from '../paths.js';
import { vmSize, type Sandbox, type SandboxRuntime, type VmSize } from '../sandbox/index.js';
import { runTool } from '../run-tool.js';
import { memoryVolumes, specSysctls, type MountPlan } from './guest-spec.js';
import type { OciSpec } from './oci.js';
import { sandboxIdFor } from '../pod-vm-identity.js';
import { CRI, shareDir, unmountContainerRoot, type TaskKind } from './pod-layout.js';

export interface PodVm {
  id: string;
  sandbox: Sandbox;
  share: string;
  /** Made for a task outside CRI: the VM goes when its one task is deleted. */
  implicit: boolean;
  tasks: Set<string>;
}

const positive = (v: string | number | undefined): number | undefined => {
  const n = Number(v);
  return v !== undefined && Number.isFinite(n) && n > 0 ? n : undefined;
};

/** vCPUs = ceil(quota / period), memory = the limit; 1 vCPU and 512Mi when the pod or container sets none. */
export function podVmSize(spec: OciSpec, kind: TaskKind, object: string): VmSize {
  const a = spec.annotations ?? {};
  const r = spec.linux?.resources;
  const [quota, period, memory] = kind === 'sandbox'
    ? [positive(a[CRI.cpuQuota]), positive(a[CRI.cpuPeriod]), positive(a[CRI.memory])]
    : [positive(r?.cpu?.quota), positive(r?.cpu?.period), positive(r?.memory?.limit)];
  return vmSize(quota && period ? String(quota / period) : undefined, memory ? String(memory) : undefined, object);
}

/**
 * What a CRI pod asks to share that a VM cannot (docs/shim.md, by design): containerd leaves a namespace out
 * of the spec when the pod shares the node's (hostNetwork, hostPID, hostIPC), and nothing of the node's
 * namespaces is inside the VM. Throws before anything boots; tasks outside CRI (`ctr run`) are not checked.
 * A container asking for the pod's PID namespace (CRI's default mode, which kubelet uses only for
 * shareProcessNamespace, and admission refuses that for VM pods) gets one of its own in the VM, as before.
 */
export function refuseHostNamespaces(spec: OciSpec, object: string): void {
  if (spec.annotations?.[CRI.containerType] === undefined) return;
  const ns = new Map((spec.linux?.namespaces ?? []).map((n) => [n.type, n]));
  const host: [string, string][] = [['network', 'hostNetwork'], ['ipc', 'hostIPC'], ['pid', 'hostPID']];
  for (const [type, field] of host) {
    if (!ns.has(type)) throw invalid(object, `the pod asks for the node's ${type} namespace (${field}); a VM pod has its own kernel, so it cannot share the node's namespaces: remove ${field}, or run the pod with runc`);
  }
}

/** The network namespace the OCI spec names, if any (CRI with CNI; `ctr run` gives a fresh one without a path). */
export const networkNamespace = (spec: OciSpec): string | undefined =>
  spec.linux?.namespaces?.find((n) => n.type === 'network' && n.path)?.path;

export interface PodVmOptions {
  /** Start VMs by restoring a template of their size (made on first use) rather than booting them. */
  fromTemplate: boolean;
}

/**
 * Boots (or restores) the VM for a group, from the spec of its sandbox task (or of a lone task): its size,
 * network namespace, hostname and sysctls. The spec is checked first, so a pod the VM cannot honour fails
 * before anything boots.
 */
export async function startPodVm(runtime: SandboxRuntime, paths: SandpodPaths, opts: PodVmOptions, group: string, spec: OciSpec, kind: TaskKind, object: string): Promise<PodVm> {
  const size = podVmSize(spec, kind, object);
  const sysctls = specSysctls(spec, object);
  memoryVolumes(spec, object);
  const share = shareDir(paths, group);
  await mkdir(share, { recursive: true });
  const netns = networkNamespace(spec);
  try {
    const sandbox = await runtime.create({
      id: sandboxIdFor(group), rootfs: share, shared: true, ...size, fromTemplate: opts.fromTemplate,
      hostname: spec.hostname || sandboxIdFor(group), ...(netns ? { netns } : {}), ...(sysctls ? { sysctls } : {}),
    });
    return { id: group, sandbox, share, implicit: kind !== 'sandbox', tasks: new Set() };
  } catch (err) {
    await rmdir(share).catch(() => undefined);
    throw err;
  }
}

/**
 * The plan's host binds (CRI's /etc/hosts, /etc/resolv.conf, volumes) mounted onto the container's rootfs
 * on the host, so the 9p share carries them into the guest; and the directories the guest mounts over.
 */
async function bindSpecMounts(rootfs: string, plan: MountPlan, id: string): Promise<void> {
  const inRootfs = async (destination: string): Promise<string | undefined> => {
    const target = join(rootfs, destination);
    if (!target.startsWith(`${rootfs}/`)) return undefined;
    await refuseSymlinks(rootfs, destination, id);
    return target;
  };
  for (const destination of plan.guestTargets) {
    const target = await inRootfs(destination);
    if (target) await mkdir(target, { recursive: true });
  }
  for (const m of plan.hostBinds) {
    const target = await inRootfs(m.destination);
    if (!target || !m.source) continue;
    const isDir = (await stat(m.source)).isDirectory();
    await mkdir(isDir ? target : dirname(target), { recursive: true });
    if (!isDir) await writeFile(target, '', { flag: 'a' });
    await runTool(`task/${id}`, 'mount', ['--rbind', m.source, target]);
    if ((m.options ?? []).includes('ro')) await runTool(`task/${id}`, 'mount', ['-o', 'remount,bind,ro', target]);
  }
}

/** A mount target reached through a symlink of the image could land anywhere on the host: refused. */
async function refuseSymlinks(rootfs: string, destination: string, id: string): Promise<void> {
  let path = rootfs;
  for (const part of destination.split('/').filter((p) => p !== '' && p !== '.')) {
    path = join(path, part);
    const st = await lstat(path).catch(() => undefined);
    if (!st) return;
    if (st.isSymbolicLink()) throw invalid(`task/${id}`, `mount destination ${destination} passes through the symlink ${path.slice(rootfs.length)} in the image; mount somewhere else`);
  }
}

/**
 * Mounts containerd's snapshot at <bundle>/rootfs (an empty list: it is already there), binds the spec's
 * host mounts into it, and binds the whole tree into the share as <share>/<id>, where the guest finds it.
 */
export async function mountContainerRoot(bundle: string, rootMounts: { type: string; source: string; options: string[] }[], plan: MountPlan, share: string, id: string): Promise<void> {
  const rootfs = join(bundle, 'rootfs');
  const target = join(share, id);
  for (const m of rootMounts) await runTool(`task/${id}`, 'mount', ['-t', m.type, ...(m.options.length ? ['-o', m.options.join(',')] : []), m.source, rootfs]);
  try {
    await bindSpecMounts(rootfs, plan, id);
    await mkdir(target);
    await runTool(`task/${id}`, 'mount', ['--rbind', rootfs, target]);
  } catch (err) {
    await unmountContainerRoot(bundle, share, id);
    throw err;
  }
}
