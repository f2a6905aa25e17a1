/**
 * Sandpod's VM runtime on real Kubernetes nodes: `node install`/`uninstall` onto a node's containerd
 * (payload, drop-in, restart, the node probe), and the manifests that go with it (RuntimeClasses, the
 * installer DaemonSet and its image). Talks to the node's files and containerd binary only; never to a
 * cluster. May import images and guest; the accelerator probe is handed in by the caller.
 */
export { installNode, uninstallNode, dropInPath, recordFile, DEFAULT_HANDLER, DEFAULT_PREFIX, type InstallOptions, type InstallDeps, type InstallRecord } from './node-install.js';
export { builtShimDir, checkoutPayload, packageVersion, payloadFrom, payloadVersion, writePayload, installedPayload, type PayloadSource } from './payload.js';
export { DEFAULT_CONTAINERD_CONFIG, restartContainerd } from './restart.js';
export { probeNode, refusals, virtualizationSummary, type NodeFacts } from './probe.js';
export { runtimeClasses, installerObjects, manifestsYaml, INSTALLER_IMAGE, INSTALLER_NAMESPACE } from './manifests.js';
export { VM_ISOLATION_LABEL, VM_POD_OVERHEAD, VM_RUNTIME_CLASS_NAMES } from '../kube/runtime-classes.js';
export { installerImageArchive, entrypointScript, builtCliBundle } from './installer-image.js';
