/**
 * What the cluster and node pool commands share: their flags (names and short forms as the managed service's CLI
 * has them, the ignored ones with their reasons), the schema pieces that type them, the store they work on, and
 * how they report progress, notes and warnings.
 */
import { z } from 'zod';
import { Cluster, ClusterStore, RuleViolation, type ClusterId, type ClusterOptions, type PoolRequest } from '../cluster/index.js';
import { cliLogger, pathsFrom, UsageError } from './options.js';
import type { FlagSet } from './flags.js';
import { outputSchema } from './output.js';

export const ID_FLAGS: FlagSet = {
  name: { type: 'string', short: 'n' },
  'resource-group': { type: 'string', short: 'g' },
};

/** az's `--no-wait`: accepted, ignored. */
export const NO_WAIT_FLAG: FlagSet = { 'no-wait': { type: 'boolean', ignored: 'every command here waits until its work is done' } };

/** The flags of a pool, on `create` (its first pool) and `nodepool add`. */
export const POOL_FLAGS: FlagSet = {
  'os-sku': { type: 'string' },
  'os-type': { type: 'string' },
  'workload-runtime': { type: 'string' },
  'node-vm-size': { type: 'string', short: 's' },
  'node-count': { type: 'string', short: 'c' },
  'max-pods': { type: 'string', short: 'm' },
  'pod-subnet': { type: 'string' },
  labels: { type: 'list' },
  'node-taints': { type: 'list' },
  mode: { type: 'string' },
  zones: { type: 'list', short: 'z', ignored: 'all nodes are on this one machine; there are no availability zones' },
  'node-osdisk-size': { type: 'string', ignored: 'nodes share this machine\'s disk' },
  tags: { type: 'list', ignored: 'local resources carry no tags' },
  'kubernetes-version': { type: 'string', short: 'k', ignored: 'the API server is Sandpod\'s own (Kubernetes 1.32 API, kubectl 1.30-1.33)' },
  ...NO_WAIT_FLAG,
};

/** az's flags of `aks create` that mean nothing for a cluster on this machine. */
export const CREATE_IGNORED: FlagSet = {
  'generate-ssh-keys': { type: 'boolean', ignored: 'nodes are network namespaces on this machine; there is nothing to log in to over SSH' },
  'ssh-key-value': { type: 'string', ignored: 'nodes are network namespaces on this machine; there is nothing to log in to over SSH' },
  'no-ssh-key': { type: 'boolean', ignored: 'nodes are network namespaces on this machine; there is nothing to log in to over SSH' },
  'admin-username': { type: 'string', short: 'u', ignored: 'nodes have no login accounts' },
  location: { type: 'string', short: 'l', ignored: 'everything runs on this machine' },
  'network-plugin': { type: 'string', ignored: 'nodes route each other\'s pod CIDRs (kubenet style, no overlay, no NAT); there is no other plugin' },
  'network-policy': { type: 'string', ignored: 'network policies are not enforced yet' },
  'enable-managed-identity': { type: 'boolean', ignored: 'there is no cloud identity here' },
  tier: { type: 'string', ignored: 'there is one control plane tier' },
  'load-balancer-sku': { type: 'string', ignored: 'there are no load balancers here' },
  'dns-name-prefix': { type: 'string', short: 'p', ignored: 'the API server is reached at 127.0.0.1' },
};

const whole = z.string().regex(/^-?\d+$/, 'must be a whole number').transform(Number);

export const idSchema = { name: z.string().optional(), 'resource-group': z.string().optional() };
export const poolSchema = {
  'os-sku': z.string().optional(),
  'os-type': z.enum(['Linux', 'Windows'], { error: () => 'must be Linux or Windows' }).optional(),
  'workload-runtime': z.string().optional(),
  'node-vm-size': z.string().optional(),
  'node-count': whole.optional(),
  'max-pods': whole.optional(),
  'pod-subnet': z.string().optional(),
  labels: z.array(z.string()).optional(),
  'node-taints': z.array(z.string()).optional(),
  mode: z.string().optional(),
};
export const commonSchema = {
  'state-dir': z.string().optional(), 'cache-dir': z.string().optional(), 'run-dir': z.string().optional(), help: z.boolean().optional(),
  output: outputSchema,
};
export { whole };

type PoolValues = { [K in keyof typeof poolSchema]?: z.infer<typeof poolSchema[K]> };

/** A pool request from the pool flags (the name comes from elsewhere). */
export function poolRequest(name: string, v: PoolValues): PoolRequest {
  if (v['os-type'] === 'Windows') {
    throw new RuleViolation('InvalidOSType', '--os-type', '--os-type Windows: Windows nodes cannot run on this Linux machine; use --os-type Linux');
  }
  return {
    name,
    ...(v['os-sku'] !== undefined ? { osSku: v['os-sku'] } : {}),
    ...(v['workload-runtime'] !== undefined ? { workloadRuntime: v['workload-runtime'] } : {}),
    ...(v['node-vm-size'] !== undefined ? { vmSize: v['node-vm-size'] } : {}),
    ...(v['node-count'] !== undefined ? { count: v['node-count'] } : {}),
    ...(v['max-pods'] !== undefined ? { maxPods: v['max-pods'] } : {}),
    ...(v['pod-subnet'] !== undefined ? { podSubnet: v['pod-subnet'] } : {}),
    ...(v.labels !== undefined ? { labels: v.labels } : {}),
    ...(v['node-taints'] !== undefined ? { taints: v['node-taints'] } : {}),
    ...(v.mode !== undefined ? { mode: v.mode } : {}),
  };
}

export function storeOf(v: { 'state-dir'?: string | undefined; 'cache-dir'?: string | undefined; 'run-dir'?: string | undefined }): ClusterStore {
  return new ClusterStore(pathsFrom(v));
}

export function idOf(command: string, v: { name?: string | undefined; 'resource-group'?: string | undefined }, nameFlag = '--name'): ClusterId {
  if (!v.name) throw new UsageError(`sandpod ${command}: ${nameFlag} is required: the cluster's name. See 'sandpod ${command} --help'`);
  return Cluster.idOf(v['resource-group'], v.name);
}

/** Progress for people: on stderr when it is a terminal (stdout carries the command's output). */
export function clusterOptions(command: string): ClusterOptions {
  const tty = process.stderr.isTTY;
  return {
    log: cliLogger(command, process.env['SANDPOD_LOG_FILE']),
    progress: (step) => { if (tty) process.stderr.write(`  ${step}…\n`); },
  };
}

export function printNotes(command: string, notes: readonly string[], warnings: readonly string[]): void {
  for (const n of notes) process.stderr.write(`sandpod ${command}: note: ${n}\n`);
  for (const w of warnings) process.stderr.write(`sandpod ${command}: warning: ${w}\n`);
}
