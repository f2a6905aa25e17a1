/**
 * The Kubernetes-compatible API server on etcd: discovery, OpenAPI, CRUD with validation and admission, watch,
 * Table output, Status errors, pod streaming proxied to node agents. Imports only kube (and the shared errors
 * and logging); only server.ts and streaming.ts touch node:http/https.
 */
export { ApiServer, type ApiServerOptions } from './server.js';
export { EtcdStore } from './store.js';
export { ensurePki, pkiPaths, readToken, type Pki } from './pki.js';
export { writeKubeconfig, kubeconfigYaml } from './kubeconfig.js';
export { NodeAgentStreaming, type PodStreaming } from './streaming.js';
export { vmHandler, vmIsolationLabel, vmMemoryAnnotation } from './admission.js';
