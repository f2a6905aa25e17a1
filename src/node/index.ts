/**
 * The node agent (kubelet's job): registers the node, runs the pods bound to it through CRI, reports their
 * status, serves their logs, exec, attach and port-forward, and samples their resource usage for /stats/summary.
 */
export { NodeAgent, AGENT_VERSION, defaultPodsDir, type NodeAgentOptions } from './agent.js';
export { MEMORY_VOLUMES_ANNOTATION } from './volumes.js';
export { LABEL, podLimits, sandboxConfig, containerConfig } from './cri-config.js';
export { runNodeAgent, removeAllPods, type NodeRunOptions } from './run.js';
export { NodeStreamingServer, type ContainerLocator, type LocatedContainer, type LocatedPod } from './streaming/index.js';
