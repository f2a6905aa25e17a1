/**
 * The node agent's streaming server: `kubectl logs`, `exec`, `attach` and `port-forward` as the API server
 * proxies them to the node (docs/node-streaming.md), served from CRI — log files for logs, the runtime's
 * streaming server (CRI Exec/Attach/PortForward URLs) for exec, attach and runc pods' port-forward, the pod's
 * address for VM pods' port-forward. It owns the node side of that contract, the translation between the user's
 * protocols and the runtime's, and Sandpod's SPDY implementation; it must not decide which container or sandbox
 * a pod name means (the ContainerLocator does, from the agent's pod workers) nor talk to the API server.
 */
export { NodeStreamingServer, type NodeStreamingServerOptions } from './server.js';
export type { ContainerLocator, LocatedContainer, LocatedPod } from './locator.js';
