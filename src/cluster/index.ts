/**
 * A local cluster on this machine: starts etcd, the API server and the scheduler as processes it tracks by
 * PID, writes the kubeconfig; runs the local OCI registry and writes, starts and stops a node's private
 * containerd. Nodes join in their own issue.
 */
export { up, down, readState, startApiServer, startScheduler, type ControlPlaneState, type UpOptions } from './control-plane.js';
export { clusterLayout, type ClusterLayout } from './layout.js';
export { startEtcd, type EtcdMember } from './etcd.js';
export { stopProcess, isAlive, waitUntil, freePort, type ManagedProcess } from './processes.js';
export {
  startRegistry, stopRegistry, startClusterRegistry, stopClusterRegistry, clusterRegistryStatus, clusterRegistryUrl,
  clusterRegistryDir, registryStateFile, type RegistryStartOptions, type RegistryRecord, type RunningRegistry, type RegistryStatus,
} from './registry.js';
export {
  containerdConfig, containerdLayout, writeContainerdConfig, registryHostsToml, startContainerd, stopContainerd,
  RUNTIME_HANDLERS, MIRRORED_HOSTS, CNI_BIN_DIR, type RuntimeHandler, type ContainerdOptions, type ContainerdCriOptions,
  type ContainerdLayout, type ContainerdStartOptions, type RunningContainerd,
} from './containerd.js';
export { upCluster, downCluster, clusterStatus, type ClusterUpOptions, type ClusterInfo, type ClusterStatus } from './cluster.js';
export { startLocalNode, stopLocalNode, restartNodeAgent, readNodeRecord, DEFAULT_NODE, NODE_POOL_LABELS, type LocalNodeOptions, type LocalNodeRecord } from './node.js';
