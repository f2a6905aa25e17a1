/**
 * The Kubernetes-compatible API server on etcd: discovery, OpenAPI, CRUD with validation and admission, watch,
 * Table output, Status errors, pod streaming proxied to node agents, metrics.k8s.io computed from the node
 * agents' usage. Imports only kube (and the shared errors and logging); only server.ts, streaming.ts and
 * node-stats.ts touch node:http/https.
 */
export { ApiServer, type ApiServerOptions } from './server.js';
export { EtcdStore } from './store.js';
export { ensurePki, pkiPaths, readToken, type Pki } from './pki.js';
export { writeKubeconfig, kubeconfigYaml } from './kubeconfig.js';
export { NodeAgentStreaming, type PodStreaming } from './streaming.js';
export { NodeAgentStats } from './node-stats.js';
export { VM_HOST_ANNOTATION, type NodeStatsSource } from './metrics.js';
export { vmHandler, vmIsolationLabel, vmMemoryAnnotation } from './admission.js';
