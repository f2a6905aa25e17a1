/**
 * Shared Kubernetes vocabulary: object shapes, quantities, durations, label and field selectors, field-path
 * validation errors, and a small REST client. A leaf: imports nothing else of Sandpod's except errors.
 */
export * from './object.js';
export * from './quantity.js';
export * from './duration.js';
export * from './stats.js';
export * from './selectors.js';
export * from './validation.js';
export * from './client.js';
export * from './status.js';
export * from './informer.js';
export * from './events.js';
export * from './pod.js';
export * from './network-policy.js';
export * from './namespace.js';
export * from './runtime-classes.js';
