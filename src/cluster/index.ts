/**
 * Local clusters on this machine, the way the managed service's CLI makes them: a cluster store (one record per
 * cluster), `Cluster`, `NodePool` and `Node` objects with their own lifecycle, the rules a cluster and its pools
 * must follow (with the VM-size table), and the daemons they run: etcd, the API server, the scheduler, the controller
 * manager, a registry, and per node a containerd and a node agent in the node's own network namespace, all watched
 * by one supervisor per cluster. `up`/`down` in control-plane.ts run a bare control plane for API tests.
 */
export { up, down, readState, startApiServer, startApiClientDaemon, type ControlPlaneState, type UpOptions } from './control-plane.js';
export { clusterLayout, layoutAt, type ClusterLayout } from './layout.js';
export { startEtcd, type EtcdMember } from './etcd.js';
export { stopProcess, isAlive, waitUntil, freePort, type ManagedProcess } from './processes.js';
export { startRegistry, stopRegistry, type RegistryStartOptions, type RunningRegistry } from './registry.js';
export {
  containerdConfig, containerdLayout, writeContainerdConfig, registryHostsToml, startContainerd, stopContainerd,
  RUNTIME_HANDLERS, MIRRORED_HOSTS, CNI_BIN_DIR, type RuntimeHandler, type ContainerdOptions, type ContainerdCriOptions,
  type ContainerdLayout, type ContainerdStartOptions, type RunningContainerd,
} from './containerd.js';
export { Cluster, readiness, type ClusterOptions, type CreateRequest, type ClusterStatus, type DaemonView } from './cluster.js';
export { NodePool } from './node-pool.js';
export { Node, nodeLabels } from './node.js';
export { ClusterStore, LOCAL_RESOURCE_GROUP, describeCluster, type ClusterId, type ClusterRecord, type PoolRecord, type NodeRecord } from './store.js';
export * from './rules.js';
export { VM_SIZES, findVmSize, runsVmIsolation, largestFitting, describeVmSize, type VmSize } from './vm-sizes.js';
export { machineFacts, type Machine } from './machine.js';
export { mergeKubeconfig, credentialsFrom, defaultKubeconfigPath, kubeconfigText, type Credentials } from './credentials.js';
export { clusterView, poolView, type ClusterView, type PoolView } from './views.js';
