/**
 * The host ↔ guest agent protocol: message schemas and framing. A leaf: imports nothing of Sandpod's,
 * and does no I/O. Both the agent (in the guest) and the sandbox runtime (on the host) use it.
 */
export * from './messages.js';
export * from './framing.js';
export * from './guest-contract.js';
