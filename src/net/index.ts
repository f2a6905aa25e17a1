/**
 * Pod networking on the host: the CNI bridge configuration of a node's pod subnet, and wiring a VM pod's tap
 * to the veth CNI gave it.
 */
export { readPodNetwork, wireTap, unwireTap, inNetns, POD_INTERFACE, VM_TAP, type PodNetwork } from './tap.js';
export { bridgeConflist, writeBridgeConflist, ensureBridge, prepareBridgeNetwork, type BridgeNetwork } from './cni.js';
