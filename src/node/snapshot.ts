/**
 * The node's view of the container runtime at one moment, like kubelet's PLEG relist: every pod sandbox
 * and container CRI knows, fetched in two calls and shared by all pod workers of a sync round.
 */
import type { Container, CriClient, PodSandbox } from '../cri/index.js';

export interface NodeSnapshot {
  sandboxes: PodSandbox[];
  containers: Container[];
  takenAt: number;
}

export async function takeSnapshot(cri: CriClient): Promise<NodeSnapshot> {
  const [sandboxes, containers] = await Promise.all([cri.listPodSandbox({}), cri.listContainers({})]);
  return { sandboxes: sandboxes.items, containers: containers.containers, takenAt: Date.now() };
}

/**
 * Containers whose pod sandbox the runtime no longer has, by id, with that sandbox's id: a container whose creation
 * finished after its sandbox was removed (kubelet's container GC removes such containers too). A sandbox made
 * between the two list calls of one snapshot makes its containers look so for a moment: callers wait.
 */
export function loneContainers(snap: NodeSnapshot): Map<string, string> {
  const sandboxes = new Set(snap.sandboxes.map((s) => s.id));
  return new Map(snap.containers.filter((c) => !sandboxes.has(c.pod_sandbox_id)).map((c) => [c.id, c.pod_sandbox_id]));
}
