/**
 * What `show`, `list` and the node pool commands print: a cluster and its pools in the managed service's JSON shape
 * (camelCase, `agentPoolProfiles`, `powerState.code`, `provisioningState`), plus each pool's nodes.
 */
import { AGENT_VERSION } from '../node/index.js';
import type { ClusterRecord, PoolRecord } from './store.js';

export interface PoolView {
  name: string;
  count: number;
  vmSize: string;
  osType: 'Linux';
  osSku: string;
  mode: string;
  workloadRuntime: string;
  maxPods: number;
  /** The pool's own pod subnet, or the cluster's pod range it shares with other pools. */
  podSubnet: string;
  nodeLabels: Record<string, string>;
  nodeTaints: string[];
  provisioningState: string;
  powerState: { code: string };
  nodes: Array<{ name: string; address: string; podCidr: string }>;
}

export interface ClusterView {
  id: string;
  name: string;
  resourceGroup: string;
  location: string;
  kubernetesVersion: string;
  provisioningState: string;
  powerState: { code: string };
  apiServer: string | null;
  lastError?: string;
  networkProfile: { networkPlugin: 'kubenet'; podCidr: string; nodeSubnet: string };
  agentPoolProfiles: PoolView[];
}

export function poolView(cluster: ClusterRecord, pool: PoolRecord): PoolView {
  return {
    name: pool.name, count: pool.count, vmSize: pool.vmSize, osType: 'Linux', osSku: pool.osSku, mode: pool.mode,
    workloadRuntime: pool.workloadRuntime, maxPods: pool.maxPods, podSubnet: pool.podSubnet ?? cluster.network.podCidr,
    nodeLabels: pool.labels, nodeTaints: pool.taints.map((t) => `${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}`),
    provisioningState: pool.provisioningState, powerState: { code: cluster.powerState },
    nodes: pool.nodes.map((n) => ({ name: n.name, address: n.address, podCidr: n.podCidr })),
  };
}

export function clusterView(cluster: ClusterRecord): ClusterView {
  return {
    id: `/subscriptions/local/resourceGroups/${cluster.resourceGroup}/providers/Sandpod/managedClusters/${cluster.name}`,
    name: cluster.name, resourceGroup: cluster.resourceGroup, location: 'local',
    kubernetesVersion: AGENT_VERSION.replace(/^v/, '').replace(/-.*$/, ''),
    provisioningState: cluster.provisioningState, powerState: { code: cluster.powerState },
    apiServer: cluster.apiServerPort && cluster.powerState === 'Running' ? `https://127.0.0.1:${cluster.apiServerPort}` : null,
    ...(cluster.lastError ? { lastError: cluster.lastError } : {}),
    networkProfile: { networkPlugin: 'kubenet', podCidr: cluster.network.podCidr, nodeSubnet: cluster.network.nodeNetwork },
    agentPoolProfiles: cluster.pools.map((p) => poolView(cluster, p)),
  };
}
