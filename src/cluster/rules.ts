/**
 * What a cluster and its node pools may be, as data and one check per rule: the workload runtimes and OS SKUs the
 * managed service knows (with their aliases and the labels they put on nodes), pool names, modes, counts, maximum
 * pods, labels, taints and pod subnets. A failed rule names the flag, what is wrong and what works, prefixed by an
 * error code in the managed service's style; nothing is created before every rule has passed.
 */
import { SandpodError } from '../errors.js';
import { checkLabels, VM_ISOLATION_LABEL } from '../kube/index.js';
import { cidrProblem, contains, formatCidr, nodeBlockPrefix, nodeBlocks, overlaps, parseCidr, tryParseCidr, type Cidr } from './cidr.js';
import type { Machine } from './machine.js';
import { describeVmSize, findVmSize, runsVmIsolation, similarVmSizes, vmIsolationAlternative, type VmSize } from './vm-sizes.js';

/** A rule that failed: kind Invalid, the flag as the object, the code in front of the message. */
export class RuleViolation extends SandpodError {
  constructor(readonly code: string, readonly flag: string, message: string) {
    super('Invalid', `(${code}) ${message}`, { object: flag });
    this.name = 'RuleViolation';
  }
}

const reject = (code: string, flag: string, message: string): never => {
  throw new RuleViolation(code, flag, message);
};

/** A CIDR a user gave, or the rule violation that says what is wrong with it. */
const userCidr = (text: string, flag: string): Cidr => {
  const problem = cidrProblem(text, flag);
  return problem ? reject('InvalidPodSubnet', flag, problem) : tryParseCidr(text)!;
};

export const LEGACY_VM_ISOLATION_LABEL = 'kubernetes.azure.com/kata-mshv-vm-isolation';

export interface WorkloadRuntime {
  vmIsolation: boolean;
  /** The labels a node of such a pool carries (RuntimeClasses select on them). */
  labels: Record<string, string>;
  /** The current name, for a runtime accepted under its legacy name. */
  replacedBy?: string;
}

export const WORKLOAD_RUNTIMES: Record<string, WorkloadRuntime> = {
  OCIContainer: { vmIsolation: false, labels: {} },
  KataVmIsolation: { vmIsolation: true, labels: { [VM_ISOLATION_LABEL]: 'true' } },
  KataMshvVmIsolation: { vmIsolation: true, labels: { [VM_ISOLATION_LABEL]: 'true', [LEGACY_VM_ISOLATION_LABEL]: 'true' }, replacedBy: 'KataVmIsolation' },
};
export const DEFAULT_WORKLOAD_RUNTIME = 'OCIContainer';

export interface OsSku {
  os: 'linux' | 'windows';
  /** Names accepted for it (said once when used). */
  aliases: string[];
  vmIsolation: boolean;
}

export const OS_SKUS: Record<string, OsSku> = {
  AzureLinux: { os: 'linux', aliases: ['Mariner', 'CBLMariner'], vmIsolation: true },
  Ubuntu: { os: 'linux', aliases: [], vmIsolation: false },
  Windows2019: { os: 'windows', aliases: [], vmIsolation: false },
  Windows2022: { os: 'windows', aliases: ['Windows'], vmIsolation: false },
};
export const DEFAULT_OS_SKU = 'Ubuntu';

export const MODES = ['System', 'User'] as const;
export type PoolMode = typeof MODES[number];

export const DEFAULT_VM_SIZE = 'Standard_D2s_v3';
export const DEFAULT_MAX_PODS = 110;
export const MAX_PODS_RANGE = { min: 10, max: 250 } as const;
export const TAINT_EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'] as const;
/** Node networks of all clusters on this machine come from here; pod subnets may not overlap it. */
export const NODE_NETWORK_RANGE = '10.224.0.0/16';
export const DEFAULT_POD_CIDR = '10.244.0.0/16';

export interface Taint { key: string; value?: string; effect: typeof TAINT_EFFECTS[number] }

/** A node pool as the user asked for it, before any rule (strings as typed). */
export interface PoolRequest {
  name: string;
  mode?: string;
  workloadRuntime?: string;
  osSku?: string;
  vmSize?: string;
  count?: number;
  maxPods?: number;
  podSubnet?: string;
  labels?: string[];
  taints?: string[];
}

/** A node pool after the rules: canonical names, defaults filled in. */
export interface PoolSpec {
  name: string;
  mode: PoolMode;
  workloadRuntime: string;
  osSku: string;
  vmSize: string;
  count: number;
  maxPods: number;
  podSubnet?: string;
  labels: Record<string, string>;
  taints: Taint[];
}

/** What the rules check a pool against: the pools already there and the cluster's networks. */
export interface PoolContext {
  pools: readonly PoolSpec[];
  /** The cluster's pod range, split among the nodes of pools without a subnet of their own. */
  podCidr: string;
  /** The cluster's node network. */
  nodeNetwork: string;
  machine: Machine;
  /** Nodes the cluster has now (all pools). */
  nodes: number;
}

export interface Verdict<T> { value: T; notes: string[]; warnings: string[] }

const lookup = <T>(table: Record<string, T>, given: string): [string, T] | undefined => {
  const lower = given.toLowerCase();
  const entry = Object.entries(table).find(([k]) => k.toLowerCase() === lower);
  return entry;
};

export function checkPoolName(name: string, flag = '--name'): string {
  if (!/^[a-z][a-z0-9]{0,11}$/.test(name)) {
    const hint = /[A-Z]/.test(name) && /^[a-z][a-z0-9]{0,11}$/.test(name.toLowerCase()) ? `; try "${name.toLowerCase()}"` : '';
    reject('InvalidAgentPoolName', flag, `node pool name "${name}" is not valid: it must start with a lowercase letter, contain only lowercase letters and digits, and be 1-12 characters long${hint}`);
  }
  return name;
}

export function checkWorkloadRuntime(given: string | undefined): Verdict<string> & { runtime: WorkloadRuntime } {
  const found = lookup(WORKLOAD_RUNTIMES, given ?? DEFAULT_WORKLOAD_RUNTIME);
  if (!found) {
    return reject('InvalidParameter', '--workload-runtime', `--workload-runtime "${given ?? ''}" is not one of ${Object.keys(WORKLOAD_RUNTIMES).join(', ')}`);
  }
  const [name, runtime] = found;
  const notes = runtime.replacedBy
    ? [`--workload-runtime ${name} is the legacy name of ${runtime.replacedBy}: accepted, same behaviour; its nodes also carry ${LEGACY_VM_ISOLATION_LABEL}=true. Prefer ${runtime.replacedBy}.`]
    : [];
  return { value: name, runtime, notes, warnings: [] };
}

export function checkOsSku(given: string | undefined, runtime: string): Verdict<string> {
  const wanted = given ?? (WORKLOAD_RUNTIMES[runtime]?.vmIsolation ? 'AzureLinux' : DEFAULT_OS_SKU);
  const lower = wanted.toLowerCase();
  const found = Object.entries(OS_SKUS).find(([k, v]) => k.toLowerCase() === lower || v.aliases.some((a) => a.toLowerCase() === lower));
  const names = Object.entries(OS_SKUS).flatMap(([k, v]) => [k, ...v.aliases]);
  if (!found) return reject('InvalidParameter', '--os-sku', `--os-sku "${wanted}" is not one of ${names.join(', ')}`);
  const [name, sku] = found;
  if (WORKLOAD_RUNTIMES[runtime]?.vmIsolation && !sku.vmIsolation) {
    reject('InvalidWorkloadRuntimeSettingError', '--os-sku',
      `--workload-runtime ${runtime} requires --os-sku AzureLinux; ${wanted} is not supported for VM isolation. Use --os-sku AzureLinux, or --workload-runtime OCIContainer for a ${wanted} pool`);
  }
  if (sku.os === 'windows') {
    reject('InvalidOSSku', '--os-sku', `--os-sku ${wanted}: Windows nodes cannot run on this Linux machine; use --os-sku AzureLinux or Ubuntu`);
  }
  const notes = name.toLowerCase() !== lower ? [`--os-sku ${wanted} is accepted as an alias of ${name}`] : [];
  return { value: name, notes, warnings: [] };
}

export function checkVmSize(given: string | undefined, runtime: string): Verdict<VmSize> {
  const size = findVmSize(given ?? DEFAULT_VM_SIZE);
  if (!size) {
    return reject('InvalidVMSize', '--node-vm-size', `--node-vm-size "${given ?? ''}" is not a size this machine knows; similar: ${similarVmSizes(given ?? '').map((s) => s.name).join(', ')} (the Dsv3, Dv2, DSv2, Dlsv5, Dasv5 and B families are known)`);
  }
  if (WORKLOAD_RUNTIMES[runtime]?.vmIsolation && !runsVmIsolation(size)) {
    const lacks = [...(size.generation2 ? [] : ['generation 2 VMs']), ...(size.nestedVirtualization ? [] : ['nested virtualization'])].join(' or ');
    const alt = vmIsolationAlternative(size);
    reject('InvalidWorkloadRuntimeSettingError', '--node-vm-size',
      `--workload-runtime ${runtime} needs a VM size with generation 2 and nested virtualization support; ${size.name} (${size.series} series) does not support ${lacks}. Use a size that does, such as ${describeVmSize(alt)}`);
  }
  return { value: size, notes: [], warnings: [] };
}

export function checkMode(given: string | undefined, fallback: PoolMode): PoolMode {
  if (given === undefined) return fallback;
  const found = MODES.find((m) => m.toLowerCase() === given.toLowerCase());
  return found ?? reject('InvalidParameter', '--mode', `--mode "${given}" is not one of ${MODES.join(', ')}`);
}

export function checkCount(count: number | undefined, flag: string, ctx: { machine: Machine; nodes: number; replacing?: number }): number {
  const n = count ?? 1;
  const room = ctx.machine.maxNodes - (ctx.nodes - (ctx.replacing ?? 0));
  if (!Number.isInteger(n) || n < 1) reject('InvalidNodeCount', flag, `${flag} ${String(count)} is not valid: a pool has 1 to ${ctx.machine.maxNodes} nodes on this machine`);
  if (n > room) {
    reject('InvalidNodeCount', flag, `${flag} ${n} is more than this machine can carry: a cluster may have ${ctx.machine.maxNodes} nodes here (one per 256 MiB of memory beyond 2 GiB) and ${ctx.nodes - (ctx.replacing ?? 0)} exist; use at most ${Math.max(room, 0)}`);
  }
  return n;
}

export function checkMaxPods(maxPods: number | undefined): number {
  const n = maxPods ?? DEFAULT_MAX_PODS;
  if (!Number.isInteger(n) || n < MAX_PODS_RANGE.min || n > MAX_PODS_RANGE.max) {
    reject('InvalidParameter', '--max-pods', `--max-pods ${String(maxPods)} is not valid: use ${MAX_PODS_RANGE.min} to ${MAX_PODS_RANGE.max}`);
  }
  return n;
}

export function checkLabelList(items: readonly string[] | undefined): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const item of (items ?? []).flatMap((i) => i.split(/[ ,]/)).filter((i) => i !== '')) {
    const eq = item.indexOf('=');
    if (eq <= 0) reject('InvalidParameter', '--labels', `--labels "${item}" is not key=value`);
    labels[item.slice(0, eq)] = item.slice(eq + 1);
  }
  const errors = checkLabels(labels, 'labels');
  if (errors.length > 0) reject('InvalidParameter', '--labels', `--labels: ${errors.map((e) => `${e.field}: ${e.detail}`).join('; ')}`);
  for (const key of Object.keys(labels)) {
    if (key.startsWith('kubernetes.azure.com/') || key === 'agentpool') {
      reject('InvalidParameter', '--labels', `--labels ${key}: this key is set by the node pool itself and cannot be given`);
    }
  }
  return labels;
}

export function checkTaints(items: readonly string[] | undefined): Taint[] {
  return (items ?? []).flatMap((i) => i.split(',')).filter((i) => i.trim() !== '').map((raw) => {
    const item = raw.trim();
    const m = /^([^=:]+)(?:=([^:]*))?:(.+)$/.exec(item);
    const effect = TAINT_EFFECTS.find((e) => e === m?.[3]);
    if (!m || !effect) {
      return reject('InvalidParameter', '--node-taints', `--node-taints "${item}" is not key=value:Effect with Effect one of ${TAINT_EFFECTS.join(', ')} (e.g. sku=gpu:NoSchedule)`);
    }
    const errors = checkLabels({ [m[1]!]: m[2] ?? '' }, 'taint');
    if (errors.length > 0) reject('InvalidParameter', '--node-taints', `--node-taints "${item}": ${errors.map((e) => e.detail).join('; ')}`);
    return { key: m[1]!, ...(m[2] ? { value: m[2] } : {}), effect };
  });
}

/** The pod subnet of a pool: its own (checked against the others and the node networks) or the cluster's range. */
export function checkPodSubnet(given: string | undefined, pool: { name: string; count: number; maxPods: number }, ctx: PoolContext): string | undefined {
  const flag = '--pod-subnet';
  const mine = given === undefined ? undefined : userCidr(given, flag);
  const subnet = mine ?? parseCidr(ctx.podCidr, '--pod-cidr');
  const nodeRange = parseCidr(NODE_NETWORK_RANGE, 'node network');
  for (const net of [nodeRange, parseCidr(ctx.nodeNetwork, 'node network')]) {
    if (mine && overlaps(mine, net)) {
      reject('InvalidPodSubnet', flag, `${flag} ${given} overlaps the node network ${formatCidr(net)}; choose a range outside ${NODE_NETWORK_RANGE}, e.g. 10.10.0.0/16`);
    }
  }
  for (const other of ctx.pools) {
    const theirs = parseCidr(other.podSubnet ?? ctx.podCidr, flag);
    const shared = !mine && !other.podSubnet;
    if (!shared && overlaps(subnet, theirs)) {
      const what = other.podSubnet ? `node pool ${other.name}'s pod subnet ${other.podSubnet}` : `the cluster's pod range ${ctx.podCidr} (used by node pool ${other.name})`;
      reject('InvalidPodSubnet', flag, `${mine ? `${flag} ${given}` : `the cluster's pod range ${ctx.podCidr}`} overlaps ${what}; choose a range that overlaps no other pool's`);
    }
  }
  const capacity = nodeBlocks(subnet, pool.maxPods) - (mine ? 0 : ctx.pools.filter((p) => !p.podSubnet).reduce((n, p) => n + p.count, 0));
  if (pool.count > capacity) {
    reject('InvalidPodSubnet', flag, `${formatCidr(subnet)} has room for ${Math.max(capacity, 0)} more node(s) of ${pool.maxPods} pods (a /${nodeBlockPrefix(subnet, pool.maxPods)} each), not ${pool.count}; use a larger subnet (a /24 per node), fewer nodes or a smaller --max-pods`);
  }
  return mine ? formatCidr(mine) : undefined;
}

/** Every rule for a new pool; `first` is the create command's pool (System by default). */
export function checkPool(req: PoolRequest, ctx: PoolContext, first: boolean): Verdict<PoolSpec> {
  const name = checkPoolName(req.name, first ? '--nodepool-name' : '--name');
  if (ctx.pools.some((p) => p.name === name)) {
    reject('AgentPoolAlreadyExists', '--name', `node pool "${name}" already exists in this cluster; choose another name, or scale it with "sandpod nodepool scale --name ${name} --node-count N"`);
  }
  const runtime = checkWorkloadRuntime(req.workloadRuntime);
  const osSku = checkOsSku(req.osSku, runtime.value);
  const size = checkVmSize(req.vmSize, runtime.value);
  const mode = checkMode(req.mode, first ? 'System' : 'User');
  const count = checkCount(req.count, '--node-count', ctx);
  const maxPods = checkMaxPods(req.maxPods);
  const labels = checkLabelList(req.labels);
  const taints = checkTaints(req.taints);
  const podSubnet = checkPodSubnet(req.podSubnet, { name, count, maxPods }, ctx);
  const spec: PoolSpec = {
    name, mode, workloadRuntime: runtime.value, osSku: osSku.value, vmSize: size.value.name, count, maxPods, labels, taints,
    ...(podSubnet ? { podSubnet } : {}),
  };
  return { value: spec, notes: [...runtime.notes, ...osSku.notes], warnings: overcommit([...ctx.pools, spec], ctx.machine) };
}

/** A warning when the pools' nodes together ask for more CPUs or memory than this machine has (they overcommit). */
export function overcommit(pools: readonly PoolSpec[], machine: Machine): string[] {
  let vcpus = 0;
  let memory = 0;
  for (const p of pools) {
    const s = findVmSize(p.vmSize);
    if (!s) continue;
    vcpus += s.vcpus * p.count;
    memory += s.memoryGiB * p.count;
  }
  const machineGiB = machine.memoryBytes / 2 ** 30;
  if (vcpus <= machine.cpus && memory <= machineGiB) return [];
  return [`the node pools' ${pools.reduce((n, p) => n + p.count, 0)} node(s) offer ${vcpus} vCPUs and ${memory} GiB; this machine has ${machine.cpus} CPUs and ${machineGiB.toFixed(1)} GiB, so nodes will overcommit it (pods are scheduled against each node's size, not the machine's)`];
}

/** Scaling a pool: the count rule again, and the pool's subnet must hold the new count. */
export function checkScale(pool: PoolSpec, count: number | undefined, ctx: PoolContext): Verdict<number> {
  if (count === undefined) reject('InvalidParameter', '--node-count', '--node-count is required: the number of nodes the pool should have');
  const n = checkCount(count, '--node-count', { ...ctx, replacing: pool.count });
  const others = ctx.pools.filter((p) => p.name !== pool.name);
  checkPodSubnet(pool.podSubnet, { name: pool.name, count: n, maxPods: pool.maxPods }, { ...ctx, pools: others });
  return { value: n, notes: [], warnings: overcommit([...others, { ...pool, count: n }], ctx.machine) };
}

/** Deleting a pool: a cluster keeps at least one System pool. */
export function checkPoolDeletion(pool: PoolSpec, pools: readonly PoolSpec[]): void {
  if (pool.mode === 'System' && !pools.some((p) => p.name !== pool.name && p.mode === 'System')) {
    reject('OperationNotAllowed', '--name', `node pool ${pool.name} is the cluster's last System pool and cannot be deleted; add another pool with --mode System first, or delete the cluster`);
  }
}

/** A cluster's own pod range (--pod-cidr): a valid CIDR outside the node networks. */
export function checkPodCidr(given: string | undefined): string {
  const c = userCidr(given ?? DEFAULT_POD_CIDR, '--pod-cidr');
  const range = parseCidr(NODE_NETWORK_RANGE, 'node network');
  if (overlaps(c, range) || contains(c, range)) {
    reject('InvalidPodSubnet', '--pod-cidr', `--pod-cidr ${formatCidr(c)} overlaps the node networks ${NODE_NETWORK_RANGE}; choose another range, e.g. ${DEFAULT_POD_CIDR}`);
  }
  if (c.prefix > 24) reject('InvalidPodSubnet', '--pod-cidr', `--pod-cidr ${formatCidr(c)} is smaller than one node's /24; use a /24 or larger (default ${DEFAULT_POD_CIDR})`);
  return formatCidr(c);
}

/** Cluster and resource group names as Azure allows them. */
export function checkClusterName(name: string | undefined): string {
  if (name === undefined || name === '') return reject('InvalidParameter', '--name', '--name is required: the cluster\'s name');
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_-]{0,62}$/.test(name)) {
    reject('InvalidParameter', '--name', `cluster name "${name}" is not valid: 1-63 letters, digits, hyphens and underscores, starting with a letter or digit`);
  }
  return name;
}

export function checkResourceGroup(name: string): string {
  if (!/^[-\w._()]{1,90}$/.test(name) || name.endsWith('.') || name === '.' || name === '..') {
    reject('InvalidParameter', '--resource-group', `resource group "${name}" is not valid: 1-90 letters, digits, underscores, hyphens, periods and parentheses, not ending in a period`);
  }
  return name;
}
