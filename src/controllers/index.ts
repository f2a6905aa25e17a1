/**
 * The controller manager: kube-controller-manager's controllers that Sandpod has — namespace deletion, the pod
 * garbage collector (orphans of deleted nodes) and node lifecycle (Lease heartbeats, condition taints). Talks to the
 * cluster only through the Kubernetes API, with informers (watches), never to etcd; imports only kube. The API server
 * keeps the rules of single objects (strategies); what spans objects over time is here.
 */
export { ControllerManager, type ControllerManagerOptions } from './controller-manager.js';
export type { Controller } from './controller.js';
export { nodeMonitorGraceMs } from './node-lifecycle.js';
