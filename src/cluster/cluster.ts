/**
 * The whole local cluster in one call: the control plane, the registry with the lab images, and one node
 * (containerd + node agent). `downCluster` takes it all away again, pods first; `clusterStatus` says what
 * runs. A cluster whose processes died (a crash, a reboot) is cleaned up by the next `upCluster`.
 */
import { failedPrecondition } from '../errors.js';
import { pushLabImages } from '../images/index.js';
import { isRecord, KubeClient } from '../kube/index.js';
import type { SandpodPaths } from '../paths.js';
import { down, readState, up, type ControlPlaneState } from './control-plane.js';
import { clusterLayout } from './layout.js';
import { readNodeRecord, restartNodeAgent, startLocalNode, stopLocalNode, type LocalNodeOptions, type LocalNodeRecord } from './node.js';
import { isAlive, lastLogLine, waitUntil, type ManagedProcess } from './processes.js';
import { clusterRegistryStatus, startClusterRegistry, stopClusterRegistry, type RegistryStatus } from './registry.js';

export interface ClusterUpOptions extends Omit<LocalNodeOptions, 'registryUrl'> {
  etcdEndpoints?: string[];
}

export interface ClusterInfo { controlPlane: ControlPlaneState; registryUrl: string; node: LocalNodeRecord }

/** Stops whatever a previous run left alive and forgets its records; true when there was something. */
async function cleanLeftovers(paths: SandpodPaths, opts: ClusterUpOptions): Promise<boolean> {
  const cp = readState(clusterLayout(paths, opts.clusterName));
  const node = readNodeRecord(paths, opts.clusterName);
  const registry = await clusterRegistryStatus(paths, opts.clusterName);
  if (!cp && !node && registry.state === 'stopped') return false;
  opts.progress?.('cleaning up what an earlier run left behind');
  await downCluster(paths, opts);
  return true;
}

export async function upCluster(paths: SandpodPaths, opts: ClusterUpOptions = {}): Promise<ClusterInfo> {
  const say = opts.progress ?? ((): void => undefined);
  const layout = clusterLayout(paths, opts.clusterName);
  const running = readState(layout);
  if (running?.processes.some((p) => isAlive(p.pid))) {
    // Everything but the node agent alive: start the agent again; it adopts the running pods.
    const registry = await clusterRegistryStatus(paths, opts.clusterName);
    const restarted = running.processes.every((p) => isAlive(p.pid)) && registry.state === 'running' ? restartNodeAgent(paths, opts.clusterName) : undefined;
    if (restarted && registry.state === 'running') {
      say(`the node agent of ${restarted.name} had stopped: started it again (pid ${restarted.agent.pid}); it adopts the running pods`);
      return { controlPlane: running, registryUrl: registry.record.url, node: restarted };
    }
    throw failedPrecondition(`cluster ${layout.dir}`, `the cluster is already running (kubeconfig ${running.kubeconfig}); run "sandpod down" first, or "sandpod status"`);
  }
  await cleanLeftovers(paths, opts);
  const controlPlane = await up(paths, opts);
  try {
    say('starting the image registry');
    const registry = await startClusterRegistry(paths, opts.clusterName ? { clusterName: opts.clusterName } : {});
    await pushLabImages(paths, registry.url, { progress: say });
    const node = await startLocalNode(paths, { ...opts, registryUrl: registry.url });
    say(`waiting for node ${node.name} to be Ready`);
    const client = KubeClient.fromKubeconfig(controlPlane.kubeconfig);
    try {
      await waitUntil(`node ${node.name} to register and be Ready (log: ${node.agent.logFile})`, async () => {
        if (!isAlive(node.agent.pid)) throw new Error(`the node agent exited: ${lastLogLine(node.agent.logFile)} (log: ${node.agent.logFile})`);
        const n = await client.get(`/api/v1/nodes/${node.name}`).catch(() => undefined);
        const conditions = n && isRecord(n['status']) && Array.isArray(n['status']['conditions']) ? n['status']['conditions'] : [];
        return conditions.some((c) => isRecord(c) && c['type'] === 'Ready' && c['status'] === 'True') || undefined;
      }, 60_000, 200);
    } finally {
      client.close();
    }
    return { controlPlane, registryUrl: registry.url, node };
  } catch (err) {
    await downCluster(paths, opts).catch(() => undefined);
    throw err;
  }
}

/** Node (pods first), registry, control plane: everything `upCluster` started. Returns the names stopped. */
export async function downCluster(paths: SandpodPaths, opts: { clusterName?: string; progress?: (step: string) => void } = {}): Promise<string[]> {
  const stopped: string[] = [];
  if (await stopLocalNode(paths, opts)) stopped.push('node');
  if (await stopClusterRegistry(paths, opts.clusterName)) stopped.push('registry');
  stopped.push(...(await down(paths, opts)).map((p: ManagedProcess) => p.name));
  return stopped;
}

export interface ClusterStatus {
  processes: { name: string; pid: number; running: boolean; logFile: string }[];
  registry: RegistryStatus;
  kubeconfig?: string;
  apiServer?: string;
  etcdEndpoints?: string[];
  nodes?: { name: string; ready: boolean }[];
  pods?: number;
}

export async function clusterStatus(paths: SandpodPaths, clusterName?: string): Promise<ClusterStatus> {
  const cp = readState(clusterLayout(paths, clusterName));
  const node = readNodeRecord(paths, clusterName);
  const processes = [
    ...(cp?.processes ?? []),
    ...(node ? [{ name: 'containerd', ...node.containerd }, { name: `node agent ${node.name}`, ...node.agent }] : []),
  ].map((p) => ({ name: p.name, pid: p.pid, running: isAlive(p.pid), logFile: p.logFile }));
  const status: ClusterStatus = { processes, registry: await clusterRegistryStatus(paths, clusterName) };
  if (!cp) return status;
  status.kubeconfig = cp.kubeconfig;
  status.apiServer = cp.apiServer;
  status.etcdEndpoints = cp.etcdEndpoints;
  const client = KubeClient.fromKubeconfig(cp.kubeconfig);
  try {
    const nodes = await client.list('/api/v1/nodes');
    status.nodes = nodes.items.map((n) => ({
      name: n.metadata.name ?? '',
      ready: isRecord(n['status']) && Array.isArray(n['status']['conditions']) && n['status']['conditions'].some((c) => isRecord(c) && c['type'] === 'Ready' && c['status'] === 'True'),
    }));
    status.pods = (await client.list('/api/v1/pods')).items.length;
  } catch {
    // The API server is down: the process list says so.
  } finally {
    client.close();
  }
  return status;
}
