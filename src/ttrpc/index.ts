/**
 * ttrpc, containerd's RPC for shims: framing, the Request/Response envelope, a server and a client.
 * Transport only: it knows nothing of tasks or sandboxes (src/shim/ defines the services).
 */
export { TtrpcServer, type MethodHandler, type CallContext } from './server.js';
export { TtrpcClient } from './client.js';
export { TtrpcError } from './envelope.js';
export { Code, codeForKind, kindForCode } from './codes.js';
export { loadProto, decodeMessage, encodeMessage } from './proto.js';
