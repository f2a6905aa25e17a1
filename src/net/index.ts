/**
 * Pod networking on the host: the CNI bridge configuration of a node's pod subnet, wiring a VM pod's tap to the
 * veth CNI gave it, the network namespaces of a cluster's nodes (the switch between them, their addresses and
 * the routes between their pod CIDRs), and NetworkPolicy: its semantics as data (network-policy.ts) and the node's
 * own nftables tables made from it (nftables.ts). It never touches a table that is not Sandpod's.
 */
export { readPodNetwork, wireTap, unwireTap, localhostToGuest, inNetns, POD_INTERFACE, VM_TAP, NODE_LINK_ADDRESS, type PodNetwork } from './tap.js';
export { bridgeConflist, writeBridgeConflist, ensureBridge, prepareBridgeNetwork, type BridgeNetwork } from './cni.js';
export {
  ensureClusterNetwork, removeClusterNetwork, ensureNodeNetwork, removeNodeNetwork, syncPodRoutes, clusterNamespaces, hostIpv4Routes,
  clusterNetnsName, nodeNetnsName, hostInterfaceName, netnsPath, netnsCommand, inNamespace, POD_BRIDGE, NETNS_DIR,
  type ClusterNetworkSpec, type NodeNetworkSpec, type RoutedNode, type HostRoute,
} from './node-network.js';
export {
  podRules, admits, type ClusterPolicyState, type PolicyPod, type PolicyPodPort, type PolicyNamespace, type PolicyObject, type PodRules, type Allow,
  type PeerMatch, type PortMatch, type Protocol,
} from './network-policy.js';
export { renderRuleset, deleteProgram, applyNftProgram, listSandpodTables, TABLE as NFT_TABLE, type NodeRuleset, type PodPort } from './nftables.js';
