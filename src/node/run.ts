/**
 * A node agent process: the CRI client, the streaming server (with the resource sampler's /stats/summary), the
 * agent, its NetworkPolicy controller and the sweeps of lost shims and stale namespace files (src/node/orphan-shims.ts, stale-files.ts), wired together and stopped together. Stopping leaves the node's pods running in the runtime for
 * the next agent to adopt.
 */
import { CriClient } from '../cri/index.js';
import type { KubeClient } from '../kube/index.js';
import type { Logger } from '../log.js';
import { describeError } from '../errors.js';
import { NodeAgent, type NodeCapacity } from './agent.js';
import { endShim, idleSandboxShims, OrphanShims } from './orphan-shims.js';
import { NetworkPolicyController } from './network-policy.js';
import { staleRuntimeFiles } from './stale-files.js';
import { hostProcFs, StatsSampler } from './stats/index.js';
import { NodeStreamingServer } from './streaming/index.js';
import { removePodDir } from './volumes.js';

export interface NodeRunOptions {
  client: KubeClient;
  /** containerd's CRI socket. */
  criSocket: string;
  nodeName: string;
  hostIP: string;
  logsRoot: string;
  /** kubelet's pods directory (volumes, termination messages); see NodeAgentOptions. */
  podsDir?: string;
  labels: Record<string, string>;
  taints?: Array<{ key: string; value?: string; effect: string }>;
  capacity?: NodeCapacity;
  podCIDR?: string;
  /**
   * The node's pod bridge, when the agent runs in the node's own network namespace: NetworkPolicy and the pods'
   * isolation from the node are then enforced there (src/node/network-policy.ts). Never set for an agent in the host's.
   */
  podBridge?: string;
  log: Logger;
}

/** How long a stopping agent tries to mark its node NotReady before it gives up (the API may be gone). */
const MARK_STOPPED_MS = 5_000;

/**
 * Starts the agent. `stop(why)` stops it; with `why`, the Node is first marked NotReady with that message (a clean
 * shutdown), otherwise it is left to the node lifecycle's grace period (a restart that adopts the pods).
 */
export async function runNodeAgent(o: NodeRunOptions): Promise<{ agent: NodeAgent; streamingPort: number; stop(why?: string): Promise<void> }> {
  const cri = new CriClient(o.criSocket, { log: o.log });
  let agent: NodeAgent | undefined;
  const stats = new StatsSampler({ cri, proc: hostProcFs, nodeName: o.nodeName, log: o.log });
  const streaming = new NodeStreamingServer({
    cri, log: o.log, stats, locator: {
      locate: (ns, pod, container, opts) => agent?.locate(ns, pod, container, opts) ?? Promise.resolve(undefined),
      locatePod: (ns, pod) => agent?.locatePod(ns, pod) ?? Promise.resolve(undefined),
    },
  });
  const streamingPort = await streaming.listen(o.hostIP);
  agent = new NodeAgent({
    client: o.client, cri, nodeName: o.nodeName, hostIP: o.hostIP, streamingPort, logsRoot: o.logsRoot, labels: o.labels, log: o.log,
    ...(o.podCIDR ? { podCIDR: o.podCIDR } : {}), ...(o.podsDir ? { podsDir: o.podsDir } : {}),
    ...(o.taints ? { taints: o.taints } : {}), ...(o.capacity ? { capacity: o.capacity } : {}),
  });
  try {
    await agent.start();
  } catch (err) {
    await streaming.close();
    cri.close();
    throw err;
  }
  const policies = o.podBridge ? new NetworkPolicyController({
    client: o.client, cri, nodeName: o.nodeName, bridge: o.podBridge, log: o.log, ...(o.podCIDR ? { podCIDR: o.podCIDR } : {}),
  }) : undefined;
  try {
    await policies?.start();
  } catch (err) {
    await agent.stop();
    await streaming.close();
    cri.close();
    throw err;
  }
  stats.start();
  const orphans = new OrphanShims({
    idleShims: () => idleSandboxShims(o.criSocket), end: endShim, now: Date.now, log: o.log,
    sandboxIds: async () => new Set((await cri.listPodSandbox({})).items.map((s) => s.id)),
  });
  orphans.start();
  const runtimeFiles = staleRuntimeFiles(cri, o.log);
  runtimeFiles.start();
  const started = agent;
  return {
    agent: started, streamingPort,
    stop: async (why?: string) => {
      await orphans.stop();
      await runtimeFiles.stop();
      await policies?.stop();
      await started.stop();
      if (why !== undefined) {
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<void>((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${MARK_STOPPED_MS} ms`)), MARK_STOPPED_MS); });
        await Promise.race([started.markStopped(why), deadline])
          .then(() => o.log.info('node marked NotReady: the agent stopped', { node: o.nodeName }))
          .catch((err: unknown) => o.log.warn('cannot mark the node NotReady; the node lifecycle will mark it unreachable', { node: o.nodeName, err: describeError(err) }))
          .finally(() => clearTimeout(timer));
      }
      await stats.stop();
      await streaming.close();
      cri.close();
    },
  };
}

/**
 * Stops and removes every pod sandbox the runtime at `criSocket` has (their containers and VMs go with
 * them), then the pods' files under `podsDir` (tmpfs volumes unmounted first): what taking a node down does.
 * Returns how many pods there were.
 */
export async function removeAllPods(criSocket: string, podsDir: string, log: Logger): Promise<number> {
  const cri = new CriClient(criSocket, { log, timeoutMs: 60_000 });
  try {
    const { items } = await cri.listPodSandbox({});
    for (const s of items) {
      await cri.stopPodSandbox({ pod_sandbox_id: s.id }).catch((err: unknown) => log.warn('cannot stop a pod sandbox', { sandbox: s.id, err }));
      await cri.removePodSandbox({ pod_sandbox_id: s.id }).catch((err: unknown) => log.warn('cannot remove a pod sandbox', { sandbox: s.id, err }));
    }
    await removePodDir(podsDir, 'node').catch((err: unknown) => log.warn('cannot remove the pods directory', { dir: podsDir, err }));
    return items.length;
  } finally {
    cri.close();
  }
}
