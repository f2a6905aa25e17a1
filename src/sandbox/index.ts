/**
 * The VM sandbox runtime: one VM per sandbox, processes inside it through the guest agent, sizing,
 * lifecycle and cleanup. Used by the CLI now and by the containerd shim. Imports vmm and protocol; the guest
 * image comes in through RuntimeOptions, so the guest builder stays out of this module.
 */
export { SandboxRuntime, type SandboxSpec, type RuntimeOptions } from './runtime.js';
export { TemplateStore, type GuestImage, type VmTemplate } from './templates.js';
export { Sandbox, type SandboxInfo, type SandboxState } from './sandbox.js';
export { AgentClient, exitStatus, type ProcessHandle, type ProcessExit, type ProcessIo } from './agent-client.js';
export { vmSize, DEFAULT_MEMORY_MIB, MIN_MEMORY_MIB, type VmSize } from './sizing.js';
export { SandboxMonitor, controlSocketPath } from './monitor.js';
export { SandboxStore, type SandboxRecord } from './store.js';
export { currentGuestImage } from './current-image.js';
