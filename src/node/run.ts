/**
 * A node agent process: the CRI client, the streaming server (with the resource sampler's /stats/summary) and
 * the agent, wired together and stopped together. Stopping leaves the node's pods running in the runtime for
 * the next agent to adopt.
 */
import { CriClient } from '../cri/index.js';
import type { KubeClient } from '../kube/index.js';
import type { Logger } from '../log.js';
import { NodeAgent } from './agent.js';
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
  podCIDR?: string;
  log: Logger;
}

export async function runNodeAgent(o: NodeRunOptions): Promise<{ agent: NodeAgent; streamingPort: number; stop(): Promise<void> }> {
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
  });
  try {
    await agent.start();
  } catch (err) {
    await streaming.close();
    cri.close();
    throw err;
  }
  stats.start();
  const started = agent;
  return {
    agent: started, streamingPort,
    stop: async () => {
      await started.stop();
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
