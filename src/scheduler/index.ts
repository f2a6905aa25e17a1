/**
 * Binding pods to nodes. Talks to the API server only through the Kubernetes API (kube's client), like
 * kube-scheduler; the placement rules are pure functions in fit.ts.
 */
export { Scheduler, schedulerName, type SchedulerOptions } from './scheduler.js';
export { place, podRequests, usageByNode, unfitReasons } from './fit.js';
