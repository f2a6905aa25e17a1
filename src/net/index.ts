/**
 * Pod networking on the host: the CNI bridge configuration of a node's pod subnet, wiring a VM pod's tap to the
 * veth CNI gave it, and the network namespaces of a cluster's nodes (the switch between them, their addresses and
 * the routes between their pod CIDRs).
 */
export { readPodNetwork, wireTap, unwireTap, inNetns, POD_INTERFACE, VM_TAP, type PodNetwork } from './tap.js';
export { bridgeConflist, writeBridgeConflist, ensureBridge, prepareBridgeNetwork, type BridgeNetwork } from './cni.js';
export {
  ensureClusterNetwork, removeClusterNetwork, ensureNodeNetwork, removeNodeNetwork, syncPodRoutes, clusterNamespaces, hostIpv4Routes,
  clusterNetnsName, nodeNetnsName, hostInterfaceName, netnsPath, netnsCommand, inNamespace, POD_BRIDGE, NETNS_DIR,
  type ClusterNetworkSpec, type NodeNetworkSpec, type RoutedNode, type HostRoute,
} from './node-network.js';
