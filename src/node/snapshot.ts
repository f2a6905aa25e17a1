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
