/**
 * The node agent's streaming server: `kubectl logs`, `exec` and `attach` as the API server proxies them to the
 * node (docs/node-streaming.md), served from CRI — log files for logs, the runtime's streaming server (CRI
 * Exec/Attach URLs) for exec and attach. It owns the node side of that contract and the translation between
 * the user's WebSocket v5 protocol and the runtime's; it must not decide which container a pod name means
 * (the ContainerLocator does, from the agent's pod workers) nor talk to the API server.
 */
export { NodeStreamingServer, type NodeStreamingServerOptions } from './server.js';
export type { ContainerLocator, LocatedContainer } from './locator.js';
