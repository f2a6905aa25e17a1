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
  /** The pod network namespace's own address on the tap and the tap's MAC: the guest answers it directly (its localhost reaches the guest). */
  node: z.object({ address: ipv4, mac: z.string().regex(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/) }).strict().optional(),
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

const segments = (p: string): string[] => p.split('/').filter((s) => s !== '');
/** An absolute path inside a container, without `.` or `..` steps. */
const containerPath = z.string().min(2).max(4096).regex(/^\/[^\0]*$/, 'must be an absolute path')
  .refine((p) => segments(p).every((s) => s !== '.' && s !== '..'), 'must not step through . or ..');
/** A path below a directory: relative, without `.` or `..` steps. */
const relativePath = z.string().min(1).max(4096).regex(/^[^/\0][^\0]*$/, 'must be a relative path')
  .refine((p) => segments(p).every((s) => s !== '.' && s !== '..'), 'must stay below its directory');

/** A sysctl name, dotted (`net.ipv4.ip_forward`) or with slashes (`net/ipv4/conf/eth0.1/forwarding`). */
export const sysctlNameSchema = z.string().min(3).max(256).regex(/^[A-Za-z0-9_][A-Za-z0-9_.\/@:-]*$/)
  .refine((n) => n.split(/[./]/).every((s) => s !== ''), 'has an empty step');
/** Sysctls by name; values are written as they are (one line). */
export const sysctlsSchema = z.record(sysctlNameSchema, z.string().max(4096).regex(/^[^\n\0]*$/, 'must be one line'));
export type Sysctls = z.infer<typeof sysctlsSchema>;

/** A Kubernetes volume name (a DNS label). */
export const volumeNameSchema = z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'must be a DNS label (a Kubernetes volume name)');

/** Guest devices a container may get beyond the minimal /dev (null, zero, full, random, urandom, tty). */
export const guestDeviceSchema = z.enum(['net/tun']);
export type GuestDevice = z.infer<typeof guestDeviceSchema>;

/** A mount the guest makes in a container's root, in the order given. */
export const guestMountSchema = z.discriminatedUnion('kind', [
  /** Host content (a volume bound on the host) that stays writable under a read-only root: a guest mount of its own. */
  z.object({ kind: z.literal('writable'), destination: containerPath }).strict(),
  /**
   * A pod memory volume: one tmpfs per volume for the whole VM, made on first use (0 bytes: no limit but
   * the VM's memory) and bound here, or its `subPath` (made if missing).
   */
  z.object({
    kind: z.literal('memory'), destination: containerPath, volume: volumeNameSchema, sizeBytes: z.number().int().nonnegative(),
    subPath: relativePath.optional(), readonly: z.boolean(),
  }).strict(),
  /**
   * Host content bound below /dev (kubelet's /dev/termination-log): it arrives in the root's own /dev over 9p,
   * which the guest's /dev tmpfs covers, so the guest binds it again on top of that tmpfs.
   */
  z.object({ kind: z.literal('dev'), destination: containerPath.refine((p) => p.startsWith('/dev/'), 'must be below /dev'), readonly: z.boolean() }).strict(),
]);
export type GuestMount = z.infer<typeof guestMountSchema>;

/** A container inside the sandbox: its root below the shared directory, its cgroup limits and what its spec asks. */
export const containerSpecSchema = containerLimitsSchema.extend({
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/),
  /** Path of its root filesystem relative to the shared directory. */
  root: z.string().min(1).regex(/^[^/]/).refine((r) => !r.split('/').includes('..'), 'must stay inside the shared directory'),
  /** The root is read-only (OCI root.readonly); `writable` mounts below it stay writable. */
  readonlyRoot: z.boolean().optional(),
  /** /sys read-write (the spec of a privileged container) rather than read-only. */
  writableSysfs: z.boolean().optional(),
  devices: z.array(guestDeviceSchema).optional(),
  mounts: z.array(guestMountSchema).max(256).optional(),
  /** Namespaced sysctls: the container's network and IPC namespaces are the VM's, so they apply to the VM. */
  sysctls: sysctlsSchema.optional(),
  /** OCI linux.maskedPaths: hidden from the container (a file behind /dev/null, a directory behind an empty read-only tmpfs). */
  maskedPaths: z.array(containerPath).max(64).optional(),
  /** OCI linux.readonlyPaths: made read-only in the container. */
  readonlyPaths: z.array(containerPath).max(64).optional(),
  /**
   * The container's seccomp filter (its OCI profile compiled by the shim): a classic BPF program for x86-64
   * (struct sock_filter[], base64) and seccomp(2) flags, loaded for each of its processes right before exec.
   */
  seccomp: z.object({
    program: base64.max(4096 * 8 * 2).regex(/^[A-Za-z0-9+/]*={0,2}$/),
    flags: z.number().int().min(0).max(0xffff),
  }).strict().optional(),
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
    /** The pod's namespaced sysctls (the VM's kernel is the pod's namespaces), applied after the network. */
    sysctls: sysctlsSchema.optional(),
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
  'NotImplemented', 'Unavailable', 'BadGateway', 'Timeout', 'FailedPrecondition', 'Internal',
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
