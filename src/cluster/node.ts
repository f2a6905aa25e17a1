/**
 * The local cluster's node: a private containerd with CRI (runtime handlers runc and sandpod-vm, the
 * cluster's registry for images, a CNI bridge over the node's pod subnet) and a node agent process, both
 * tracked by PID. Taking the node down removes its pods first, so no VM outlives the cluster.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { describeError } from '../errors.js';
import { PAUSE_IMAGE } from '../images/index.js';
import { createLogger } from '../log.js';
import { unmountBelow } from '../mounts.js';
import { prepareBridgeNetwork } from '../net/index.js';
import { defaultPodsDir, removeAllPods } from '../node/index.js';
import type { SandpodPaths } from '../paths.js';
import { containerdOfShimDaemon, processCommandLines } from '../pod-vm-identity.js';
import { runTool } from '../run-tool.js';
import { containerdLayout, startContainerd, stopContainerd } from './containerd.js';
import { clusterLayout } from './layout.js';
import { isAlive, startProcess, stopProcess } from './processes.js';

export interface LocalNodeOptions {
  clusterName?: string;
  nodeName?: string;
  /** The node's pod subnet (a /24); the bridge holds its first address. */
  podSubnet?: string;
  /** The Linux bridge CNI makes for the pods (at most 15 characters). */
  bridge?: string;
  registryUrl: string;
  labels?: Record<string, string>;
  progress?: (step: string) => void;
}

const recordSchema = z.object({
  name: z.string(), bridge: z.string(), subnet: z.string(), criSocket: z.string(), logsRoot: z.string(), labels: z.record(z.string(), z.string()),
  containerd: z.object({ pid: z.number(), logFile: z.string() }),
  agent: z.object({ pid: z.number(), logFile: z.string() }),
}).transform((r) => ({ ...r, podsDir: defaultPodsDir(r.logsRoot) }));
export type LocalNodeRecord = z.infer<typeof recordSchema>;

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const daemonScript = join(dirname(fileURLToPath(import.meta.url)), 'daemon.js');

export const DEFAULT_NODE = { name: 'sandpod-node-1', subnet: '10.244.0.0/24', bridge: 'sandpod0' } as const;
/** The pool labels of the local node: one pool whose workload runtime is VM isolation, running plain pods too. */
export const NODE_POOL_LABELS = {
  'sandpod.io/nodepool': 'default', 'sandpod.io/workload-runtime': 'KataVmIsolation', 'sandpod.io/vm-isolation': 'true',
} as const;

const nodeDir = (paths: SandpodPaths, clusterName: string | undefined, node: string): string => join(clusterLayout(paths, clusterName).dir, 'nodes', node);
const recordFile = (paths: SandpodPaths, clusterName?: string): string => join(paths.runRoot, 'clusters', clusterName ?? 'default', 'node.json');

export function readNodeRecord(paths: SandpodPaths, clusterName?: string): LocalNodeRecord | undefined {
  const file = recordFile(paths, clusterName);
  if (!existsSync(file)) return undefined;
  const parsed = recordSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  return parsed.success ? parsed.data : undefined;
}

/** Starts containerd and the node agent; the control plane (kubeconfig) and the registry must be up. */
export async function startLocalNode(paths: SandpodPaths, opts: LocalNodeOptions): Promise<LocalNodeRecord> {
  const layout = clusterLayout(paths, opts.clusterName);
  const name = opts.nodeName ?? DEFAULT_NODE.name;
  const subnet = opts.podSubnet ?? DEFAULT_NODE.subnet;
  const bridge = opts.bridge ?? DEFAULT_NODE.bridge;
  const dir = nodeDir(paths, opts.clusterName, name);
  const say = opts.progress ?? ((): void => undefined);
  const gateway = subnet.replace(/\.0\/\d+$/, '.1');
  await prepareBridgeNetwork(join(dir, 'cni', 'net.d'), '10-sandpod.conflist', { name: 'sandpod', bridge, subnet, gateway, dataDir: join(dir, 'cni', 'ipam') });
  say('starting containerd (runtime handlers runc and sandpod-vm)');
  // The shims containerd starts use this checkout's containerd-shim-sandpod-v2 and the cluster's Sandpod roots.
  const env = {
    ...process.env, PATH: `${join(repoRoot, 'bin')}:${process.env['PATH'] ?? ''}`,
    SANDPOD_STATE_DIR: paths.stateRoot, SANDPOD_RUN_DIR: paths.runRoot, SANDPOD_CACHE_DIR: paths.cacheRoot,
  };
  const socket = join(paths.runRoot, 'clusters', opts.clusterName ?? 'default', `${name}.sock`);
  mkdirSync(dirname(socket), { recursive: true });
  const containerd = await startContainerd({
    dir: join(dir, 'containerd'), socket, cri: { sandboxImage: PAUSE_IMAGE, cniConfDir: join(dir, 'cni', 'net.d') }, registry: opts.registryUrl, env,
  });
  say(`starting the node agent for ${name}`);
  const labels = { ...NODE_POOL_LABELS, ...opts.labels };
  const agentLog = join(layout.logs, `node-${name}.log`);
  const record: LocalNodeRecord = {
    name, bridge, subnet, criSocket: containerd.address, logsRoot: join(dir, 'pods'), podsDir: defaultPodsDir(join(dir, 'pods')), labels,
    containerd: { pid: containerd.process.pid, logFile: containerd.layout.logFile }, agent: { pid: 0, logFile: agentLog },
  };
  return spawnAgent(paths, opts.clusterName, record);
}

function spawnAgent(paths: SandpodPaths, clusterName: string | undefined, record: LocalNodeRecord): LocalNodeRecord {
  const layout = clusterLayout(paths, clusterName);
  const agent = startProcess(`node agent ${record.name}`, process.execPath, ['--enable-source-maps', daemonScript, 'node',
    '--kubeconfig', layout.kubeconfig, '--cri', record.criSocket, '--name', record.name, '--logs', record.logsRoot, '--pods-dir', record.podsDir,
    '--pod-cidr', record.subnet, '--labels', Object.entries(record.labels).map(([k, v]) => `${k}=${v}`).join(',')],
  record.agent.logFile, { ...process.env, SANDPOD_LOG_FILE: record.agent.logFile });
  const next = { ...record, agent: { ...record.agent, pid: agent.pid } };
  mkdirSync(dirname(recordFile(paths, clusterName)), { recursive: true });
  writeFileSync(recordFile(paths, clusterName), JSON.stringify(next, null, 2));
  return next;
}

/**
 * Starts the node agent again after it died (killed, crashed) while containerd kept running: the new agent
 * adopts the pods already in the runtime.
 */
export function restartNodeAgent(paths: SandpodPaths, clusterName?: string): LocalNodeRecord | undefined {
  const record = readNodeRecord(paths, clusterName);
  if (!record || isAlive(record.agent.pid) || !isAlive(record.containerd.pid)) return undefined;
  return spawnAgent(paths, clusterName, record);
}

/**
 * Shims still serving the node's containerd once it is gone (pods that were starting when the node went down):
 * TERM lets each take its VMs down; a shim that does not exit is killed, and its VMs die with it.
 */
async function stopShimsOf(criSocket: string, say: (step: string) => void): Promise<void> {
  const shims = (await processCommandLines()).filter((p) => containerdOfShimDaemon(p.argv) === criSocket);
  if (shims.length === 0) return;
  say(`stopping ${shims.length} shim(s) left by pods that were starting`);
  await Promise.all(shims.map((p) => stopProcess(p.pid, 15_000)));
}

/** Stops the node agent, removes every pod (VMs included), stops containerd and deletes the pod bridge. */
export async function stopLocalNode(paths: SandpodPaths, opts: { clusterName?: string; progress?: (step: string) => void } = {}): Promise<boolean> {
  const record = readNodeRecord(paths, opts.clusterName);
  if (!record) return false;
  const say = opts.progress ?? ((): void => undefined);
  if (isAlive(record.agent.pid)) {
    say(`stopping the node agent (pid ${record.agent.pid})`);
    // The agent waits for runtime calls under way (a VM sandbox being made) before it exits.
    await stopProcess(record.agent.pid, 70_000);
  }
  if (isAlive(record.containerd.pid)) {
    say('removing the pods');
    await removeAllPods(record.criSocket, record.podsDir, createLogger('cluster')).catch(() => 0);
    say(`stopping containerd (pid ${record.containerd.pid})`);
    await stopContainerd({ process: { pid: record.containerd.pid } });
  }
  await stopShimsOf(record.criSocket, say);
  // What containerd mounts for sandboxes (their /dev/shm, their network namespaces) and could not take down
  // itself, say for a sandbox still being made when it stopped.
  await unmountBelow(containerdLayout(join(nodeDir(paths, opts.clusterName, record.name), 'containerd')).state, `node/${record.name}`)
    .catch((err: unknown) => say(`cannot unmount what containerd left: ${describeError(err)}`));
  await runTool('cluster', 'ip', ['link', 'delete', record.bridge]).catch(() => undefined);
  rmSync(recordFile(paths, opts.clusterName), { force: true });
  return true;
}
