/**
 * Where a task of a pod lives on the host, and what undoes it: its group (the pod), its kind, the VM's share
 * directory. Kept apart from pods.ts (which starts VMs) so that the shim's short-lived `start` and `delete`
 * commands load only this.
 */
import { readdir, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { failedPrecondition } from '../errors.js';
import type { Logger } from '../log.js';
import type { SandpodPaths } from '../paths.js';
import { sandboxIdFor } from '../pod-vm-identity.js';
import { isMounted } from '../mounts.js';
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

/** The group a task belongs to (the pod's sandbox id under CRI), as the runc shim groups. */
export const groupOf = (spec: OciSpec, id: string): string => spec.annotations?.[CRI.sandboxId] ?? id;
export const kindOf = (spec: OciSpec): TaskKind => (spec.annotations?.[CRI.containerType] === 'sandbox' ? 'sandbox' : 'container');

export const shareDir = (paths: SandpodPaths, group: string): string => join(paths.runRoot, 'shares', sandboxIdFor(group));

/** Undoes mountContainerRoot, whatever part of it happened; safe to repeat. */
export async function unmountContainerRoot(bundle: string, share: string, id: string, log?: Logger): Promise<void> {
  for (const path of [join(share, id), join(bundle, 'rootfs')]) {
    if (await isMounted(path)) await runTool(`task/${id}`, 'umount', ['-l', path]).catch((err: unknown) => log?.warn('unmount failed', { path, err }));
  }
  await rmdir(join(share, id)).catch(() => undefined);
}

/** Removes an empty share; a share still holding a container root is an error, never deleted recursively. */
export async function removeShare(share: string): Promise<void> {
  const left = await readdir(share).catch(() => []);
  if (left.length > 0) throw failedPrecondition(`share/${share}`, `the VM share still holds ${left.join(', ')}; remove those containers first`);
  await rmdir(share).catch(() => undefined);
}
