/**
 * Pod networking on the host: wiring a VM pod's tap to the veth CNI gave it.
 */
export { readPodNetwork, wireTap, unwireTap, inNetns, POD_INTERFACE, VM_TAP, type PodNetwork } from './tap.js';
