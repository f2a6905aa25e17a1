/**
 * The VM behind a group of tasks. A CRI pod is one group: its sandbox (pause) container is the VM itself,
 * sized from the pod's CRI annotations and joined to the pod's network namespace, and each app container
 * gets its root filesystem bind-mounted into the VM's 9p share. A task created outside CRI (`ctr run`) is
 * a group of its own, in a VM sized from the container's resources.
 */
import { mkdir, readdir, readFile, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { failedPrecondition } from '../errors.js';
import type { Logger } from '../log.js';
import { type SandpodPaths } from '../paths.js';
import { vmSize, type Sandbox, type SandboxRuntime, type VmSize } from '../sandbox/index.js';
import { runTool } from '../run-tool.js';
import type { OciSpec } from './oci.js';

export const CRI = {
  containerType: 'io.kubernetes.cri.container-type',
  sandboxId: 'io.kubernetes.cri.sandbox-id',
  cpuQuota: 'io.kubernetes.cri.sandbox-cpu-quota',
  cpuPeriod: 'io.kubernetes.cri.sandbox-cpu-period',
  memory: 'io.kubernetes.cri.sandbox-memory',
} as const;

export type TaskKind = 'sandbox' | 'container';

export interface PodVm {
  id: string;
  sandbox: Sandbox;
  share: string;
  /** Made for a task outside CRI: the VM goes when its one task is deleted. */
  implicit: boolean;
  tasks: Set<string>;
}

/** The group a task belongs to (the pod's sandbox id under CRI), as the runc shim groups. */
export const groupOf = (spec: OciSpec, id: string): string => spec.annotations?.[CRI.sandboxId] ?? id;
export const kindOf = (spec: OciSpec): TaskKind => (spec.annotations?.[CRI.containerType] === 'sandbox' ? 'sandbox' : 'container');

/** A VM name for a group id: sandbox ids are at most 63 lowercase characters. */
export const sandboxIdFor = (id: string): string => id.toLowerCase().replace(/[^a-z0-9_.-]/g, '-').slice(0, 63);

export const shareDir = (paths: SandpodPaths, group: string): string => join(paths.runRoot, 'shares', sandboxIdFor(group));

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

/** The network namespace the OCI spec names, if any (CRI with CNI; `ctr run` gives a fresh one without a path). */
export const networkNamespace = (spec: OciSpec): string | undefined =>
  spec.linux?.namespaces?.find((n) => n.type === 'network' && n.path)?.path;

export async function startPodVm(runtime: SandboxRuntime, paths: SandpodPaths, group: string, spec: OciSpec, kind: TaskKind, object: string): Promise<PodVm> {
  const share = shareDir(paths, group);
  await mkdir(share, { recursive: true });
  const netns = networkNamespace(spec);
  try {
    const sandbox = await runtime.create({
      id: sandboxIdFor(group), rootfs: share, shared: true, ...podVmSize(spec, kind, object),
      hostname: spec.hostname || sandboxIdFor(group).slice(0, 63), ...(netns ? { netns } : {}),
    });
    return { id: group, sandbox, share, implicit: kind !== 'sandbox', tasks: new Set() };
  } catch (err) {
    await rmdir(share).catch(() => undefined);
    throw err;
  }
}

const mounted = async (path: string): Promise<boolean> =>
  (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').some((l) => l.split(' ')[4] === path);

/**
 * Mounts containerd's snapshot at <bundle>/rootfs (an empty list: it is already there) and binds it into
 * the share as <share>/<id>, where the guest finds it. Returns the directory name in the share.
 */
export async function mountContainerRoot(bundle: string, mounts: { type: string; source: string; options: string[] }[], share: string, id: string): Promise<string> {
  const rootfs = join(bundle, 'rootfs');
  const target = join(share, id);
  for (const m of mounts) await runTool(`task/${id}`, 'mount', ['-t', m.type, ...(m.options.length ? ['-o', m.options.join(',')] : []), m.source, rootfs]);
  try {
    await mkdir(target);
    await runTool(`task/${id}`, 'mount', ['--bind', rootfs, target]);
  } catch (err) {
    await unmountContainerRoot(bundle, share, id);
    throw err;
  }
  return id;
}

/** Undoes mountContainerRoot, whatever part of it happened; safe to repeat. */
export async function unmountContainerRoot(bundle: string, share: string, id: string, log?: Logger): Promise<void> {
  for (const path of [join(share, id), join(bundle, 'rootfs')]) {
    if (await mounted(path)) await runTool(`task/${id}`, 'umount', ['-l', path]).catch((err: unknown) => log?.warn('unmount failed', { path, err }));
  }
  await rmdir(join(share, id)).catch(() => undefined);
}

/** Removes an empty share; a share still holding a container root is an error, never deleted recursively. */
export async function removeShare(share: string): Promise<void> {
  const left = await readdir(share).catch(() => []);
  if (left.length > 0) throw failedPrecondition(`share/${share}`, `the VM share still holds ${left.join(', ')}; remove those containers first`);
  await rmdir(share).catch(() => undefined);
}
