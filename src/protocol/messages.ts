/**
 * Host ↔ guest agent messages. One schema, used by the host (src/sandbox) and by the agent (src/guest/agent),
 * so both sides validate what they receive against the same definition.
 *
 * Requests from the host carry a numeric `id`; the agent answers each with one `reply` or `failure` carrying that id.
 * Processes are named by the host (`proc`), so output and exit events can be routed before the reply arrives.
 * Byte payloads travel base64-encoded.
 */
import { z } from 'zod';

export const PROTOCOL_VERSION = 1;

const reqId = z.number().int().nonnegative();
const procId = z.string().min(1).max(128);
const base64 = z.string();
const windowSize = { rows: z.number().int().min(1).max(10000), cols: z.number().int().min(1).max(10000) };

export const processSpecSchema = z.object({
  args: z.array(z.string()).min(1),
  env: z.array(z.string()),
  cwd: z.string().min(1),
  terminal: z.boolean(),
  rows: windowSize.rows.optional(),
  cols: windowSize.cols.optional(),
  /** Whether the host will send stdin; without it the process gets /dev/null. */
  stdin: z.boolean(),
  /** The container (see create-container) it runs in; without one, the sandbox rootfs with no namespaces of its own. */
  container: z.string().min(1).max(128).optional(),
  /** The container's first process: new mount and PID namespaces (PID 1 there); later ones join them. */
  init: z.boolean().optional(),
  user: z.object({
    uid: z.number().int().nonnegative(),
    gid: z.number().int().nonnegative(),
    groups: z.array(z.number().int().nonnegative()).max(64).optional(),
  }).strict().optional(),
  /** Capabilities the process keeps (e.g. CAP_NET_ADMIN); all the guest has when absent. */
  capabilities: z.array(z.string().regex(/^CAP_[A-Z_]+$/)).optional(),
  noNewPrivileges: z.boolean().optional(),
}).strict();
export type ProcessSpec = z.infer<typeof processSpecSchema>;

const ipv4 = z.string().regex(/^(\d{1,3}\.){3}\d{1,3}$/);
/** The pod's network as CNI configured it on the host side, applied to the guest's interface. */
export const guestNetworkSchema = z.object({
  mac: z.string().regex(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/),
  mtu: z.number().int().min(68).max(65535),
  addresses: z.array(z.object({ address: ipv4, prefix: z.number().int().min(0).max(32) }).strict()),
  routes: z.array(z.object({ destination: z.union([z.literal('default'), z.string().regex(/^[\d.]+\/\d+$/)]), gateway: ipv4.optional() }).strict()),
}).strict();
export type GuestNetwork = z.infer<typeof guestNetworkSchema>;

/** A container's cgroup limits; an absent one is left as it is. */
export const containerLimitsSchema = z.object({
  memoryBytes: z.number().int().positive().optional(),
  cpuQuotaUs: z.number().int().positive().optional(),
  cpuPeriodUs: z.number().int().positive().optional(),
  pidsMax: z.number().int().positive().optional(),
}).strict();
export type ContainerLimits = z.infer<typeof containerLimitsSchema>;

/** A container inside the sandbox: its root below the shared directory and its cgroup limits. */
export const containerSpecSchema = containerLimitsSchema.extend({
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/),
  /** Path of its root filesystem relative to the shared directory. */
  root: z.string().min(1).regex(/^[^/]/).refine((r) => !r.split('/').includes('..'), 'must stay inside the shared directory'),
}).strict();
export type ContainerSpec = z.infer<typeof containerSpecSchema>;

export const hostMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('hello'), id: reqId, nonce: z.string() }).strict(),
  z.object({
    type: z.literal('setup'), id: reqId,
    hostname: z.string().min(1).max(64),
    rootfsTag: z.string().min(1).max(31),
    /** Host wall-clock time (ms since the epoch): a VM restored from a template wakes with a stale clock. */
    clockMs: z.number().int().positive().optional(),
    /** Random bytes to mix into the guest's pool: clones of one template start with the same RNG state. */
    entropy: base64.optional(),
    /** The share holds containers' roots (create-container) rather than being the one rootfs itself. */
    shared: z.boolean().optional(),
    network: guestNetworkSchema.optional(),
  }).strict(),
  z.object({ type: z.literal('create-container'), id: reqId, container: containerSpecSchema }).strict(),
  z.object({ type: z.literal('remove-container'), id: reqId, container: z.string().min(1).max(128) }).strict(),
  z.object({ type: z.literal('container-stats'), id: reqId, container: z.string().min(1).max(128) }).strict(),
  z.object({ type: z.literal('update-container'), id: reqId, container: z.string().min(1).max(128), limits: containerLimitsSchema }).strict(),
  z.object({ type: z.literal('exec'), id: reqId, proc: procId, spec: processSpecSchema }).strict(),
  z.object({ type: z.literal('stdin'), proc: procId, data: base64 }).strict(),
  z.object({ type: z.literal('close-stdin'), proc: procId }).strict(),
  z.object({ type: z.literal('signal'), id: reqId, proc: procId, signal: z.string().regex(/^SIG[A-Z0-9]+$/) }).strict(),
  z.object({ type: z.literal('resize'), proc: procId, ...windowSize }).strict(),
  z.object({ type: z.literal('shutdown'), id: reqId }).strict(),
]);
export type HostMessage = z.infer<typeof hostMessageSchema>;
export type HostRequest = Extract<HostMessage, { id: number }>;

/** A container's cgroup counters, as the guest kernel keeps them (cgroup v2). */
export const containerStatsSchema = z.object({
  cpuUsageUs: z.number().nonnegative(), cpuUserUs: z.number().nonnegative(), cpuSystemUs: z.number().nonnegative(),
  memoryBytes: z.number().nonnegative(), memoryLimitBytes: z.number().nonnegative().optional(),
  pids: z.number().nonnegative(), pidsLimit: z.number().nonnegative().optional(),
  oomKills: z.number().nonnegative(),
}).strict();
export type ContainerStats = z.infer<typeof containerStatsSchema>;

/** Sandpod's error kinds (src/errors.ts), which a failure carries across to the host. */
export const errorKindSchema = z.enum([
  'NotFound', 'AlreadyExists', 'Conflict', 'Invalid', 'Unauthorized', 'Forbidden', 'Expired', 'TooLarge', 'UnsupportedMediaType',
  'NotImplemented', 'Unavailable', 'Timeout', 'FailedPrecondition', 'Internal',
]);

export const readyInfoSchema = z.object({
  protocol: z.number().int(),
  kernel: z.string(),
  /** Guest uptime when the agent became ready, in milliseconds. */
  bootMs: z.number().nonnegative(),
  /** Guest boot id, distinct for every boot. */
  bootId: z.string(),
}).strict();
export type ReadyInfo = z.infer<typeof readyInfoSchema>;

export const guestMessageSchema = z.discriminatedUnion('type', [
  /** Sent unprompted when the agent starts; `hello` gets the same facts in its reply. */
  z.object({ type: z.literal('ready'), info: readyInfoSchema }).strict(),
  z.object({ type: z.literal('reply'), id: reqId, result: z.unknown().optional() }).strict(),
  z.object({
    type: z.literal('failure'), id: reqId,
    error: z.object({ kind: errorKindSchema, message: z.string() }).strict(),
  }).strict(),
  z.object({ type: z.literal('output'), proc: procId, stream: z.enum(['stdout', 'stderr']), data: base64 }).strict(),
  z.object({
    type: z.literal('exit'), proc: procId,
    code: z.number().int().nullable(),
    signal: z.string().nullable(),
    /** Set (by the host side) when the process was lost with its VM rather than exiting. */
    error: z.string().optional(),
    /** A container's first process ended after the kernel's OOM killer acted in the container's cgroup. */
    oomKilled: z.boolean().optional(),
  }).strict(),
]);
export type GuestMessage = z.infer<typeof guestMessageSchema>;
