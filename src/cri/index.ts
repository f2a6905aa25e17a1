/**
 * The node side of the Container Runtime Interface: the runtime.v1 subset Sandpod speaks (api.proto, a
 * contract file with upstream's names and field numbers) and a typed gRPC client for it. It owns the wire and
 * the mapping of gRPC statuses to SandpodError kinds; it must not know about pods, kubelet policy or
 * containerd's configuration — those belong to the node agent and the cluster.
 */
export { CriClient, type CriClientOptions, type CallOptions, type CriMethod } from './client.js';
export { criServices, type CriServiceName } from './api.js';
export type * from './types.js';
