/**
 * A node of a cluster: a host of its own on this machine. Its network namespace holds its address on the cluster's
 * node network and its pod bridge over its pod CIDR; inside it run its private containerd (runtime handlers runc and
 * sandpod-vm, images from the cluster's registry) and its node agent, which registers the Node with its pool's
 * labels, taints and VM size. Stopping a node marks it NotReady (the agent does, on SIGTERM), removes its pods (VMs
 * included), stops containerd, and removes whatever is left of it: processes under its runtime, mounts, namespace.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeError, isSandpodError } from '../errors.js';
import { PAUSE_IMAGE } from '../images/index.js';
import type { KubeClient, KubeObject } from '../kube/index.js';
import type { Logger } from '../log.js';
import { unmountBelow } from '../mounts.js';
import { ensureNodeNetwork, netnsCommand, netnsPath, nodeNetnsName, POD_BRIDGE, removeNodeNetwork, writeBridgeConflist } from '../net/index.js';
import { defaultPodsDir, removeAllPods } from '../node/index.js';
import type { SandpodPaths } from '../paths.js';
import { containerdOfShimDaemon, processCommandLines } from '../pod-vm-identity.js';
import { address, parseCidr } from './cidr.js';
import { startContainerd, stopContainerd } from './containerd.js';
import type { ClusterLayout } from './layout.js';
import { isAlive, killProcessTrees, startProcess, stopProcess, waitUntil, type ManagedProcess } from './processes.js';
import { WORKLOAD_RUNTIMES } from './rules.js';
import type { NodeRecord, PoolRecord } from './store.js';
import { findVmSize } from './vm-sizes.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const daemonScript = join(dirname(fileURLToPath(import.meta.url)), 'daemon.js');

/** What a node needs of its cluster. */
export interface NodeHost {
  name: string;
  key: string;
  paths: SandpodPaths;
  layout: ClusterLayout;
  socketDir: string;
  hostAddress: string;
  nodeNetworkPrefix: number;
  log: Logger;
  say: (step: string) => void;
}

/** The labels a node of `pool` carries, as the managed service sets them, then the pool's own. */
export function nodeLabels(pool: Pick<PoolRecord, 'name' | 'mode' | 'osSku' | 'vmSize' | 'workloadRuntime' | 'labels'>): Record<string, string> {
  return {
    'kubernetes.azure.com/agentpool': pool.name,
    agentpool: pool.name,
    'kubernetes.azure.com/mode': pool.mode.toLowerCase(),
    'kubernetes.azure.com/os-sku': pool.osSku,
    'kubernetes.io/os': 'linux',
    'node.kubernetes.io/instance-type': pool.vmSize,
    'beta.kubernetes.io/instance-type': pool.vmSize,
    ...(WORKLOAD_RUNTIMES[pool.workloadRuntime]?.labels ?? {}),
    ...pool.labels,
  };
}

export class Node {
  constructor(private readonly host: NodeHost, readonly pool: PoolRecord, readonly record: NodeRecord) {}

  get name(): string { return this.record.name; }
  get netns(): string { return nodeNetnsName(this.host.key, this.record.index); }
  get dir(): string { return join(this.host.layout.nodesDir, this.record.name); }
  get criSocket(): string { return join(this.host.socketDir, `${this.host.key}-n${this.record.index}.sock`); }
  get logFile(): string { return join(this.host.layout.logs, `node-${this.record.name}.log`); }
  /** Where the node's Sandpod shims log (containerd runs them; they inherit its environment). */
  get shimLogFile(): string { return join(this.host.layout.logs, `shims-${this.record.name}.log`); }
  private get logsRoot(): string { return join(this.dir, 'pods'); }
  get daemonNames(): { containerd: string; agent: string } {
    return { containerd: `containerd/${this.record.name}`, agent: `node-agent/${this.record.name}` };
  }

  private get gateway(): string { return address(parseCidr(this.record.podCidr, 'pod CIDR'), 1); }

  /** Its namespace and network, containerd and the node agent; returns the two daemons for the supervisor. */
  async start(registryUrl: string): Promise<ManagedProcess[]> {
    const say = this.host.say;
    say(`starting node ${this.name} (${this.record.address}, pods on ${this.record.podCidr})`);
    await ensureNodeNetwork({
      key: this.host.key, index: this.record.index, address: this.record.address, prefix: this.host.nodeNetworkPrefix,
      hostAddress: this.host.hostAddress, podCidr: this.record.podCidr, gateway: this.gateway,
    });
    await writeBridgeConflist(join(this.dir, 'cni', 'net.d'), '10-sandpod.conflist', {
      name: 'sandpod', bridge: POD_BRIDGE, subnet: this.record.podCidr, gateway: this.gateway, dataDir: join(this.dir, 'cni', 'ipam'),
    });
    mkdirSync(this.host.socketDir, { recursive: true });
    mkdirSync(this.host.layout.logs, { recursive: true });
    // The shims containerd starts use this checkout's containerd-shim-sandpod-v2 and the cluster's Sandpod roots,
    // and log to a file of the node's own.
    const env = {
      ...process.env, PATH: `${join(repoRoot, 'bin')}:${process.env['PATH'] ?? ''}`, SANDPOD_LOG_FILE: this.shimLogFile,
      SANDPOD_STATE_DIR: this.host.paths.stateRoot, SANDPOD_RUN_DIR: this.host.paths.runRoot, SANDPOD_CACHE_DIR: this.host.paths.cacheRoot,
    };
    const containerd = await startContainerd({
      dir: join(this.dir, 'containerd'), socket: this.criSocket, netns: netnsPath(this.netns), env, logger: this.host.log,
      cri: { sandboxImage: PAUSE_IMAGE, cniConfDir: join(this.dir, 'cni', 'net.d') }, registry: registryUrl,
    });
    let agent: ManagedProcess;
    try {
      agent = this.startAgent();
    } catch (err) {
      await stopContainerd(containerd);
      throw err;
    }
    return [{ ...containerd.process, name: this.daemonNames.containerd }, agent];
  }

  private startAgent(): ManagedProcess {
    const vm = findVmSize(this.pool.vmSize);
    const capacity = vm ? `cpu=${vm.vcpus},memory=${Math.round(vm.memoryGiB * 2 ** 30)},pods=${this.pool.maxPods}` : undefined;
    const labels = Object.entries(nodeLabels(this.pool)).map(([k, v]) => `${k}=${v}`).join(',');
    const taints = this.pool.taints.map((t) => `${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}`).join(',');
    const [command, ...args] = netnsCommand(this.netns, [process.execPath, '--enable-source-maps', daemonScript, 'node',
      '--kubeconfig', this.host.layout.nodeKubeconfig, '--cri', this.criSocket, '--name', this.name, '--logs', this.logsRoot,
      '--pods-dir', defaultPodsDir(this.logsRoot), '--host-ip', this.record.address, '--pod-cidr', this.record.podCidr, '--pod-bridge', POD_BRIDGE,
      '--labels', labels,
      ...(taints ? ['--taints', taints] : []), ...(capacity ? ['--capacity', capacity] : [])]);
    return startProcess(this.daemonNames.agent, command!, args, this.logFile, { ...process.env, SANDPOD_LOG_FILE: this.logFile });
  }

  /**
   * Stops the node: the agent first (it marks the Node NotReady), then every pod (VMs included) through CRI, then
   * containerd; then removes what could be left (processes under its runtime, mounts, its namespace). `pids` are
   * the daemons' current PIDs.
   */
  async stop(pids: ReadonlyMap<string, number>): Promise<void> {
    const say = this.host.say;
    const agent = pids.get(this.daemonNames.agent);
    if (agent !== undefined && isAlive(agent)) {
      say(`stopping the node agent of ${this.name} (pid ${agent}; it marks the node NotReady)`);
      // The agent waits for runtime calls under way (a VM sandbox being made) before it exits.
      await stopProcess(agent, 70_000);
    }
    const containerd = pids.get(this.daemonNames.containerd);
    if (containerd !== undefined && isAlive(containerd)) {
      say(`removing the pods of ${this.name}`);
      const removed = await removeAllPods(this.criSocket, defaultPodsDir(this.logsRoot), this.host.log).catch((err: unknown) => {
        this.host.log.warn('cannot remove the pods through CRI; their processes are killed instead', { object: `node/${this.name}`, err: describeError(err) });
        return 0;
      });
      if (removed > 0) this.host.log.info('pods removed', { object: `node/${this.name}`, pods: removed });
      say(`stopping containerd of ${this.name} (pid ${containerd})`);
      await stopContainerd({ process: { pid: containerd } });
    }
    await this.sweep();
  }

  /**
   * Takes down what still runs under this node's runtime: shims left by pods that were starting get TERM (each
   * takes its VMs down) and are killed if they do not exit; then anything else still naming the node's socket (and
   * what runs under it) is killed. Unmounts its files and removes its namespace.
   */
  async sweep(): Promise<void> {
    const socket = this.criSocket;
    const shims = (await processCommandLines()).filter((p) => containerdOfShimDaemon(p.argv) === socket);
    if (shims.length > 0) {
      this.host.say(`stopping ${shims.length} shim(s) of ${this.name} left by pods that were starting`);
      await Promise.all(shims.map((p) => stopProcess(p.pid, 15_000)));
    }
    const killed = killProcessTrees((cmd) => cmd.includes(`\0${socket}\0`) || cmd.includes(`\0${socket}.ttrpc\0`));
    if (killed.length > 0) this.host.log.warn('killed processes the node left behind', { object: `node/${this.name}`, pids: killed });
    if (killed.length > 0) await waitUntil(`the processes of node ${this.name} to exit`, () => killed.every((p) => !isAlive(p)) || undefined, 10_000, 50);
    await unmountBelow(this.dir, `node/${this.name}`);
    await removeNodeNetwork(this.host.key, this.record.index);
    rmSync(socket, { force: true });
    rmSync(`${socket}.ttrpc`, { force: true });
  }

  /**
   * Drains the node as `kubectl drain` would without controllers to bring pods back: cordons it, deletes its pods
   * and waits until the agent has stopped them (forcing what is still there after `timeoutMs`).
   */
  async drain(client: KubeClient, timeoutMs = 120_000): Promise<number> {
    const say = this.host.say;
    say(`draining node ${this.name}`);
    await client.mergePatch(`/api/v1/nodes/${this.name}`, { spec: { unschedulable: true } });
    const podsHere = async (): Promise<KubeObject[]> => (await client.list(`/api/v1/pods?fieldSelector=spec.nodeName%3D${this.name}`)).items;
    const pods = await podsHere();
    const path = (p: KubeObject): string => `/api/v1/namespaces/${p.metadata.namespace ?? 'default'}/pods/${p.metadata.name ?? ''}`;
    for (const p of pods) await client.call('DELETE', path(p)).catch((err: unknown) => { if (!isSandpodError(err, 'NotFound')) throw err; });
    try {
      await waitUntil(`the pods of node ${this.name} to stop`, async () => ((await podsHere()).length === 0 ? true : undefined), timeoutMs, 500);
    } catch {
      for (const p of await podsHere()) {
        this.host.log.warn('pod did not stop in time; deleting it without grace', { object: `node/${this.name}`, pod: `${p.metadata.namespace ?? ''}/${p.metadata.name ?? ''}` });
        await client.call('DELETE', `${path(p)}?gracePeriodSeconds=0`).catch(() => undefined);
      }
    }
    return pods.length;
  }

  /** Removes the Node and its Lease from the API (after stop) and the node's files. */
  async forget(client: KubeClient | undefined): Promise<void> {
    if (client) {
      for (const path of [`/api/v1/nodes/${this.name}`, `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${this.name}`]) {
        await client.call('DELETE', path).catch((err: unknown) => { if (!isSandpodError(err, 'NotFound')) throw err; });
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
    for (const log of [this.logFile, this.shimLogFile]) for (const file of [log, `${log}.1`]) rmSync(file, { force: true });
  }
}
