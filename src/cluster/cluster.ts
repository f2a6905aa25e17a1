/**
 * A cluster: its record in the store, its control plane (etcd, API server, scheduler, controller manager), its image registry, its node
 * pools and their nodes, each node a network namespace with its own containerd and node agent, and the supervisor
 * that restarts any of these daemons that dies. `create`, `start`, `stop` and `delete` are its lifecycle; a pool is
 * added through it. Every long step says what it does through `progress` and logs the object it concerns.
 *
 * The API server and the registry listen on 127.0.0.1 (for the user) and on the cluster's host address on its node
 * network (for the nodes, which live in other network namespaces); the nodes' kubeconfig names the latter.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ensurePki, readToken, writeKubeconfig } from '../api/index.js';
import { describeError, failedPrecondition, isSandpodError, notFound, SandpodError } from '../errors.js';
import { pushLabImages, readRegistryConfig } from '../images/index.js';
import { isRecord, KubeClient, type KubeObject } from '../kube/index.js';
import { createLogger, type Logger } from '../log.js';
import { unmountBelow } from '../mounts.js';
import {
  clusterNamespaces, ensureClusterNetwork, hostIpv4Routes, hostInterfaceName, removeClusterNetwork, removeNodeNetwork, syncPodRoutes, type HostRoute,
} from '../net/index.js';
import { STOPPED_REASON } from '../node/index.js';
import { address, block, formatCidr, nodeBlockPrefix, overlaps, parseCidr, tryParseCidr, type Cidr } from './cidr.js';
import { API_CLIENT_DAEMONS, startApiClientDaemon, startApiServer } from './control-plane.js';
import { startEtcd } from './etcd.js';
import { readJsonFile } from './json-file.js';
import { layoutAt, type ClusterLayout } from './layout.js';
import { machineFacts, type Machine } from './machine.js';
import { Node } from './node.js';
import { NodePool, type PoolHost } from './node-pool.js';
import { processTable } from '../process-table.js';
import { isAlive, killProcessTrees, lastLogLine, stopProcess, waitUntil, type ManagedProcess } from './processes.js';
import { startRegistry } from './registry.js';
import {
  checkClusterName, checkPodCidr, checkPool, checkResourceGroup, NODE_NETWORK_RANGE, type PoolContext, type PoolRequest, type Verdict,
} from './rules.js';
import {
  describeCluster, LOCAL_RESOURCE_GROUP, type ClusterId, type ClusterRecord, type ClusterStore, type NodeRecord, type PoolRecord,
} from './store.js';
import { SupervisorClient, type DaemonSpec, type DaemonStatus } from './supervisor.js';

const daemonScript = join(dirname(fileURLToPath(import.meta.url)), 'daemon.js');
/** The programs a cluster runs besides its own daemons (daemon.js). */
const DAEMON_BINARIES = new Set(['etcd', 'docker-registry', 'containerd']);
const CONTROL_PLANE = ['etcd', 'apiserver', ...API_CLIENT_DAEMONS.map((d) => d.name), 'registry'] as const;

export interface ClusterOptions {
  log?: Logger;
  progress?: (step: string) => void;
  machine?: Machine;
}

export interface CreateRequest {
  resourceGroup?: string;
  name?: string;
  /** The first node pool (its name defaults to nodepool1). */
  pool: Omit<PoolRequest, 'name'> & { name?: string };
  podCidr?: string;
  etcdEndpoints?: string[];
}

export interface DaemonView {
  name: string;
  pid: number;
  running: boolean;
  logFile: string;
  restarts: number;
  state: DaemonStatus['state'] | 'unsupervised';
  lastExit?: DaemonStatus['lastExit'];
  nextRestartAt?: string;
}

export interface ClusterStatus {
  id: ClusterId;
  powerState: ClusterRecord['powerState'];
  provisioningState: ClusterRecord['provisioningState'];
  lastError?: string;
  supervisor?: { pid: number; running: boolean; logFile: string };
  daemons: DaemonView[];
  kubeconfig: string;
  apiServer?: string;
  etcdEndpoints?: string[];
  registry?: string;
  nodes?: Array<{ name: string; pool: string; address: string; podCidr: string; ready: boolean; reason?: string }>;
  pods?: number;
}

const hostNetworkOf = (record: ClusterRecord): string => address(parseCidr(record.network.nodeNetwork, 'node network'), 1);
const routeCidr = (r: HostRoute): Cidr | undefined => tryParseCidr(r.dst.includes('/') ? r.dst : `${r.dst}/32`);

/** The node network for a new cluster: a /24 of 10.224.0.0/16 no other cluster here and no host route uses. */
async function allocateNodeNetwork(store: ClusterStore, id: ClusterId, ownInterface?: string): Promise<string> {
  const range = parseCidr(NODE_NETWORK_RANGE, 'node network');
  const taken = [
    ...store.list().filter((r) => r.name !== id.name || r.resourceGroup !== id.resourceGroup).map((r) => r.network.nodeNetwork),
    ...(await hostIpv4Routes()).filter((r) => r.dev !== ownInterface).map(routeCidr),
  ].map((t) => (typeof t === 'string' ? tryParseCidr(t) : t)).filter((c) => c !== undefined);
  const start = parseInt(store.key(id), 16) % 256;
  for (let i = 0; i < 256; i++) {
    const candidate = block(range, 24, (start + i) % 256);
    if (!taken.some((t) => overlaps(t, candidate))) return formatCidr(candidate);
  }
  throw failedPrecondition(describeCluster(id), `every /24 of ${NODE_NETWORK_RANGE} is in use on this machine; delete a cluster first`);
}

/** The cluster's number in its node names, as the managed service has one per cluster (aks-nodepool1-12345678-vmss000000). */
const nameDigits = (key: string): string => String(parseInt(key, 16) % 100_000_000).padStart(8, '0');

export class Cluster implements PoolHost {
  readonly layout: ClusterLayout;
  readonly key: string;
  readonly supervisor: SupervisorClient;
  private readonly log: Logger;
  private readonly say: (step: string) => void;
  private readonly machine: Machine;

  private constructor(private readonly store: ClusterStore, readonly record: ClusterRecord, opts: ClusterOptions) {
    this.layout = layoutAt(store.dir(record), store.runDir(record));
    this.key = store.key(record);
    this.log = (opts.log ?? createLogger('cluster')).child({ object: describeCluster(record) });
    this.say = opts.progress ?? ((): void => undefined);
    this.machine = opts.machine ?? machineFacts();
    this.supervisor = new SupervisorClient(this.layout.runDir, {
      command: process.execPath, args: ['--enable-source-maps', daemonScript, 'supervisor', '--run-dir', this.layout.runDir],
      logFile: join(this.layout.logs, 'supervisor.log'),
    });
  }

  static idOf(resourceGroup: string | undefined, name: string | undefined): ClusterId {
    return { resourceGroup: checkResourceGroup(resourceGroup ?? LOCAL_RESOURCE_GROUP), name: checkClusterName(name) };
  }

  static open(store: ClusterStore, id: ClusterId, opts: ClusterOptions = {}): Cluster {
    return new Cluster(store, store.require(id), opts);
  }

  /**
   * Checks every rule, records the cluster and its first pool, then starts it. Nothing is created when a rule fails;
   * a cluster whose start fails stays, in state Failed, with its logs, until it is deleted.
   */
  static async create(store: ClusterStore, req: CreateRequest, opts: ClusterOptions = {}): Promise<Verdict<Cluster>> {
    const id = Cluster.idOf(req.resourceGroup, req.name);
    const existing = store.get(id);
    if (existing) {
      throw new SandpodError('AlreadyExists', `it already exists (${existing.provisioningState}, ${existing.powerState}); start it with "sandpod start", or delete it first with "sandpod delete"`, { object: describeCluster(id) });
    }
    const machine = opts.machine ?? machineFacts();
    const podCidr = checkPodCidr(req.podCidr);
    const nodeNetwork = await allocateNodeNetwork(store, id);
    const verdict = checkPool({ ...req.pool, name: req.pool.name ?? 'nodepool1' }, { pools: [], podCidr, nodeNetwork, machine, nodes: 0 }, true);
    const record: ClusterRecord = {
      apiVersion: 'sandpod.io/v1', kind: 'Cluster', ...id, createdAt: new Date().toISOString(),
      provisioningState: 'Creating', powerState: 'Stopped', network: { nodeNetwork, podCidr },
      ...(req.etcdEndpoints ? { etcdEndpoints: req.etcdEndpoints } : {}),
      pools: [{ ...verdict.value, provisioningState: 'Creating', nodes: [] }],
    };
    const cluster = new Cluster(store, record, { ...opts, machine });
    const pool = cluster.record.pools[0]!;
    pool.nodes = cluster.allocateNodes(pool, pool.count);
    store.save(record);
    cluster.log.info('cluster created', { pools: record.pools.map((p) => p.name), nodeNetwork, podCidr });
    await cluster.start();
    return { ...verdict, value: cluster };
  }

  get id(): ClusterId { return { resourceGroup: this.record.resourceGroup, name: this.record.name }; }
  get hostAddress(): string { return hostNetworkOf(this.record); }
  get running(): boolean { return this.record.powerState === 'Running'; }
  get apiServerUrl(): string | undefined { return this.record.apiServerPort ? `https://127.0.0.1:${this.record.apiServerPort}` : undefined; }

  save(): void {
    this.store.save(this.record);
  }

  pools(): NodePool[] {
    return this.record.pools.map((p) => new NodePool(this, p));
  }

  pool(name: string): NodePool {
    const p = this.record.pools.find((x) => x.name === name);
    if (!p) throw notFound(`nodepool ${name}`, `${describeCluster(this.id)} has no node pool "${name}"; its pools are ${this.record.pools.map((x) => x.name).join(', ')}`);
    return new NodePool(this, p);
  }

  allPools(): readonly PoolRecord[] { return this.record.pools; }

  nodes(): Node[] {
    return this.record.pools.flatMap((p) => p.nodes.map((n) => this.nodeOf(p, n)));
  }

  nodeOf(pool: PoolRecord, record: NodeRecord): Node {
    return new Node({
      name: this.record.name, key: this.key, paths: this.store.paths, layout: this.layout, socketDir: this.store.socketDir(),
      hostAddress: this.hostAddress, nodeNetworkPrefix: parseCidr(this.record.network.nodeNetwork, 'node network').prefix, log: this.log, say: this.say,
    }, pool, record);
  }

  poolContext(): PoolContext {
    return {
      pools: this.record.pools, podCidr: this.record.network.podCidr, nodeNetwork: this.record.network.nodeNetwork, machine: this.machine,
      nodes: this.record.pools.reduce((n, p) => n + p.nodes.length, 0),
    };
  }

  requireRunning(what: string): void {
    if (!this.running) throw failedPrecondition(describeCluster(this.id), `cannot ${what}: the cluster is stopped; start it with "sandpod start --name ${this.record.name} --resource-group ${this.record.resourceGroup}"`);
  }

  /**
   * Names, addresses and pod CIDRs for `count` new nodes of `pool`: the lowest free node numbers and, from the pool's
   * pod subnet (or the cluster's pod range, shared by the pools without one), the lowest free blocks.
   */
  allocateNodes(pool: PoolRecord, count: number): NodeRecord[] {
    const all = this.record.pools.flatMap((p) => p.nodes);
    const subnet = parseCidr(pool.podSubnet ?? this.record.network.podCidr, 'pod subnet');
    const prefix = nodeBlockPrefix(subnet, pool.maxPods);
    const sharing = this.record.pools.filter((p) => (p.podSubnet ?? this.record.network.podCidr) === (pool.podSubnet ?? this.record.network.podCidr)).flatMap((p) => p.nodes);
    const net = parseCidr(this.record.network.nodeNetwork, 'node network');
    const out: NodeRecord[] = [];
    for (let i = 0; i < count; i++) {
      const taken = [...all, ...out];
      let index = 0;
      while (taken.some((n) => n.index === index)) index++;
      let b = 0;
      while ([...sharing, ...out].some((n) => n.podCidr === formatCidr(block(subnet, prefix, b)))) b++;
      let ordinal = 0;
      const names = new Set([...pool.nodes, ...out].map((n) => n.name));
      const nameOf = (o: number): string => `aks-${pool.name}-${nameDigits(this.key)}-vmss${o.toString(36).padStart(6, '0')}`;
      while (names.has(nameOf(ordinal))) ordinal++;
      out.push({ name: nameOf(ordinal), index, address: address(net, 4 + index), podCidr: formatCidr(block(subnet, prefix, b)) });
    }
    return out;
  }

  removePoolRecord(name: string): void {
    this.record.pools = this.record.pools.filter((p) => p.name !== name);
    this.save();
  }

  /** Checks and adds a node pool; when the cluster runs, its nodes start and join before this returns. */
  async addPool(req: PoolRequest): Promise<Verdict<NodePool>> {
    this.requireRunning(`add node pool ${req.name}`);
    const verdict = checkPool(req, this.poolContext(), false);
    const record: PoolRecord = { ...verdict.value, provisioningState: 'Creating', nodes: [] };
    this.record.pools.push(record);
    const pool = new NodePool(this, record);
    this.log.info('node pool added', { pool: record.name, count: record.count, workloadRuntime: record.workloadRuntime });
    await pool.provision();
    return { ...verdict, value: pool };
  }

  private setState(state: ClusterRecord['provisioningState'], power?: ClusterRecord['powerState']): void {
    this.record.provisioningState = state;
    if (power) this.record.powerState = power;
    if (state === 'Succeeded') delete this.record.lastError;
    this.save();
  }

  /** Whether every daemon of the running cluster, and its supervisor, run. */
  fullyRunning(): boolean {
    if (!this.running || this.supervisor.running() === undefined) return false;
    return [...this.supervisor.pids().values()].every(isAlive);
  }

  /**
   * Starts everything: the cluster network, the control plane, the registry (with the lab images), every node, the
   * routes between nodes, then the supervisor. What an earlier run left (a crash, a reboot) is cleaned up first.
   */
  async start(): Promise<void> {
    if (this.fullyRunning()) {
      throw failedPrecondition(describeCluster(this.id), `it is already running (kubeconfig ${this.layout.kubeconfig}); "sandpod status" says what runs`);
    }
    if (await this.leftovers()) {
      this.say('cleaning up what an earlier run left behind');
      await this.halt();
    }
    const creating = this.record.provisioningState === 'Creating';
    this.setState(creating ? 'Creating' : 'Starting');
    const started: ManagedProcess[] = [];
    try {
      mkdirSync(this.layout.logs, { recursive: true });
      await this.ensureNetwork();
      started.push(...(await this.startControlPlane()));
      this.say('starting the image registry');
      const registry = await startRegistry({ dir: this.layout.registryDir, logFile: join(this.layout.logs, 'registry.log'), host: this.hostAddress, logger: this.log });
      started.push(registry.process);
      await pushLabImages(this.store.paths, registry.url, { progress: this.say, logger: this.log });
      for (const node of this.nodes()) started.push(...(await node.start(registry.url)));
      await this.syncRoutes();
      await this.waitReady(this.nodes(), started);
      this.say('starting the supervisor');
      await this.supervisor.launch(started.map(toSpec));
      for (const p of this.record.pools) p.provisioningState = 'Succeeded';
      this.setState('Succeeded', 'Running');
      this.log.info('cluster running', { nodes: this.nodes().map((n) => n.name), apiServer: this.apiServerUrl });
    } catch (err) {
      this.log.error('cluster start failed', { err: describeError(err) });
      await this.halt(new Map(started.map((p) => [p.name, p.pid]))).catch((e: unknown) => this.log.warn('cleanup after a failed start failed', { err: describeError(e) }));
      this.record.lastError = describeError(err);
      for (const p of this.record.pools) if (p.provisioningState !== 'Succeeded') p.provisioningState = 'Failed';
      this.setState('Failed', 'Stopped');
      throw err;
    }
  }

  /**
   * Makes sure the cluster runs, doing as little as possible: nothing when it runs whole; the supervisor alone when
   * only it is gone (it restarts any daemon that died meanwhile); otherwise a full start.
   */
  async resume(): Promise<'running' | 'supervisor restarted' | 'started'> {
    if (this.fullyRunning()) return 'running';
    const set = this.supervisor.readSet();
    const controlPlaneUp = CONTROL_PLANE.every((name) => {
      const pid = this.supervisor.pids().get(name);
      return name === 'etcd' && this.record.etcdEndpoints ? true : pid !== undefined && isAlive(pid);
    });
    if (this.running && set && this.supervisor.running() === undefined && controlPlaneUp) {
      this.say('the supervisor had stopped: starting it again (it restarts any daemon that died)');
      const pids = this.supervisor.pids();
      await this.supervisor.launch(set.daemons.map((d) => ({ ...d, pid: pids.get(d.name) ?? d.pid })));
      return 'supervisor restarted';
    }
    await this.start();
    return 'started';
  }

  /** Stops everything (pods removed, nodes marked NotReady first); data stays. Returns the daemons stopped. */
  async stop(): Promise<string[]> {
    this.setState('Stopping');
    const stopped = await this.halt();
    this.setState('Succeeded', 'Stopped');
    return stopped;
  }

  /** Stops whatever runs and removes the cluster's record, data, logs, sockets and network. */
  async delete(): Promise<void> {
    this.setState('Deleting');
    await this.halt();
    this.store.remove(this.id);
    this.log.info('cluster deleted');
  }

  /** Whether anything of the cluster is left on this machine (processes, namespaces, the host's port). */
  private async leftovers(): Promise<boolean> {
    if ([...this.supervisor.pids().values()].some(isAlive) || this.supervisor.running() !== undefined) return true;
    if (processTable().some((p) => this.ownsCommand(p.cmdline))) return true;
    return (await clusterNamespaces(this.key)).length > 0;
  }

  /**
   * Whether a command line is one of this cluster's daemons: each names a file of the cluster's directory (etcd's
   * data, the PKI, a kubeconfig, the registry's or a node's config). A start interrupted before the supervisor knew
   * its daemons (its own process killed) leaves them running with no record; this is how they are found.
   */
  private ownsCommand(cmdline: string): boolean {
    if (!cmdline.includes(`${this.layout.dir}/`)) return false;
    // A daemon, not a client such as a kubectl given the cluster's kubeconfig.
    return cmdline.includes(`/${basename(dirname(daemonScript))}/daemon.js\0`) || DAEMON_BINARIES.has(basename(cmdline.split('\0')[0] ?? ''));
  }

  /**
   * Stops the supervisor, then the nodes (agents, pods, containerd), the registry and the control plane, newest
   * first, and removes the cluster network; tolerant of anything already gone. `extra` are processes started by a
   * start that failed before the supervisor knew them.
   */
  private async halt(extra: ReadonlyMap<string, number> = new Map()): Promise<string[]> {
    if (await this.supervisor.stop()) this.say('stopped the supervisor');
    const pids = new Map([...this.supervisor.pids(), ...extra]);
    const alive = [...pids].filter(([, pid]) => isAlive(pid)).map(([name]) => name);
    await Promise.all(this.nodes().map((n) => n.stop(pids)));
    for (const name of [...CONTROL_PLANE].reverse()) {
      const pid = pids.get(name);
      if (pid !== undefined && isAlive(pid)) {
        this.say(`stopping ${name} (pid ${pid})`);
        await stopProcess(pid);
      }
    }
    // Nodes the record no longer lists (a pool removed half-way, a crash), found by their namespaces.
    for (const ns of await clusterNamespaces(this.key)) {
      const index = /-n(\d+)$/.exec(ns)?.[1];
      if (index === undefined) continue;
      const socket = join(this.store.socketDir(), `${this.key}-n${index}.sock`);
      killProcessTrees((cmd) => cmd.includes(`\0${socket}\0`));
      await removeNodeNetwork(this.key, Number(index));
    }
    const stray = killProcessTrees((cmd) => this.ownsCommand(cmd));
    if (stray.length > 0) {
      this.log.warn('killed processes of the cluster that no record named (a start was interrupted)', { pids: stray });
      alive.push(`${stray.length} process${stray.length === 1 ? '' : 'es'} of an interrupted start`);
    }
    await unmountBelow(this.layout.nodesDir, describeCluster(this.id));
    await removeClusterNetwork(this.key);
    rmSync(join(this.layout.runDir, 'daemons.json'), { force: true });
    rmSync(join(this.layout.runDir, 'supervisor.json'), { force: true });
    return alive;
  }

  /** The cluster network with the recorded node network, or a new one when something else took it meanwhile. */
  private async ensureNetwork(): Promise<void> {
    const own = hostInterfaceName(this.key);
    const mine = parseCidr(this.record.network.nodeNetwork, 'node network');
    const clash = (await hostIpv4Routes()).find((r) => {
      const c = routeCidr(r);
      return r.dev !== own && c !== undefined && overlaps(c, mine);
    });
    if (clash) {
      const next = await allocateNodeNetwork(this.store, this.id, own);
      this.log.warn('node network taken by something else on this machine; moving the cluster', { was: this.record.network.nodeNetwork, now: next, by: `${clash.dst} dev ${clash.dev ?? '?'}` });
      this.say(`the node network ${this.record.network.nodeNetwork} is in use (${clash.dst} on ${clash.dev ?? '?'}); moving this cluster's nodes to ${next}`);
      const net = parseCidr(next, 'node network');
      this.record.network.nodeNetwork = next;
      for (const p of this.record.pools) for (const n of p.nodes) n.address = address(net, 4 + n.index);
      this.save();
    }
    this.say(`preparing the cluster network ${this.record.network.nodeNetwork} (host ${this.hostAddress})`);
    await ensureClusterNetwork({ key: this.key, nodeNetwork: this.record.network.nodeNetwork, hostAddress: this.hostAddress });
  }

  private async startControlPlane(): Promise<ManagedProcess[]> {
    const started: ManagedProcess[] = [];
    let endpoints = this.record.etcdEndpoints ?? [];
    if (endpoints.length === 0) {
      this.say('starting etcd');
      const etcd = await startEtcd(this.layout.etcdData, join(this.layout.logs, 'etcd.log'));
      started.push(etcd.process);
      endpoints = [etcd.endpoint];
    }
    this.say('preparing certificates');
    const pki = ensurePki(this.layout.pki, [this.hostAddress]);
    this.say('starting the API server');
    try {
      const api = await startApiServer(this.layout, endpoints, { ...(this.record.apiServerPort ? { port: this.record.apiServerPort } : {}), extraHosts: [this.hostAddress] });
      started.push(api.process);
      this.record.apiServerPort = api.port;
      this.save();
      const token = readToken(pki);
      writeKubeconfig(this.layout.kubeconfig, { server: api.url, caCertFile: pki.caCert, token, clusterName: this.record.name });
      writeKubeconfig(this.layout.nodeKubeconfig, { server: `https://${this.hostAddress}:${api.port}`, caCertFile: pki.caCert, token, clusterName: this.record.name });
      for (const d of API_CLIENT_DAEMONS) {
        this.say(d.step);
        started.push(startApiClientDaemon(this.layout, d.name));
      }
      return started;
    } catch (err) {
      for (const p of started.reverse()) await stopProcess(p.pid);
      throw err;
    }
  }

  private async syncRoutes(): Promise<void> {
    await syncPodRoutes(this.nodes().map((n) => ({ netns: n.netns, address: n.record.address, podCidr: n.record.podCidr })));
  }

  client(): KubeClient {
    return KubeClient.fromKubeconfig(this.layout.kubeconfig);
  }

  /** Waits until every node has registered and is Ready; fails early, with its log, when a node's agent exits. */
  private async waitReady(nodes: Node[], started: readonly ManagedProcess[], timeoutMs = 120_000): Promise<void> {
    if (nodes.length === 0) return;
    this.say(`waiting for ${nodes.length === 1 ? `node ${nodes[0]!.name}` : `${nodes.length} nodes`} to be Ready`);
    const client = this.client();
    try {
      await waitUntil(`${nodes.map((n) => n.name).join(', ')} to register and be Ready`, async () => {
        for (const n of nodes) {
          const agent = started.find((p) => p.name === n.daemonNames.agent);
          if (agent && !isAlive(agent.pid)) throw failedPrecondition(`node/${n.name}`, `the node agent of ${n.name} exited: ${lastLogLine(n.logFile)} (log: ${n.logFile})`);
        }
        const ready = await Promise.all(nodes.map(async (n) => readiness(await client.get(`/api/v1/nodes/${n.name}`).catch(() => undefined)).ready));
        return ready.every(Boolean) || undefined;
      }, timeoutMs, 250);
    } finally {
      client.close();
    }
  }

  /** PoolHost: starts new nodes of a running cluster, routes them, waits for them and hands them to the supervisor. */
  async startNodes(nodes: Node[]): Promise<void> {
    const registry = await this.registryUrl();
    if (!registry) throw failedPrecondition(describeCluster(this.id), `its registry is not running; run "sandpod start" again (see "sandpod status")`);
    const started: ManagedProcess[] = [];
    try {
      for (const n of nodes) started.push(...(await n.start(registry)));
      await this.syncRoutes();
      await this.waitReady(nodes, started);
      await this.supervisor.update((daemons) => [...daemons, ...started.map(toSpec)]);
    } catch (err) {
      const pids = new Map(started.map((p) => [p.name, p.pid]));
      await Promise.all(nodes.map((n) => n.stop(pids).catch(() => undefined)));
      throw err;
    }
  }

  /** PoolHost: drains, stops and forgets nodes; the supervisor lets go of them first. */
  async removeNodes(nodes: Node[]): Promise<void> {
    const client = this.running ? this.client() : undefined;
    try {
      if (client) for (const n of nodes) await n.drain(client);
      const names = new Set(nodes.flatMap((n) => [n.daemonNames.agent, n.daemonNames.containerd]));
      const pids = this.supervisor.pids();
      await this.supervisor.update((daemons) => daemons.filter((d) => !names.has(d.name)));
      await Promise.all(nodes.map((n) => n.stop(pids)));
      for (const n of nodes) await n.forget(client);
      const gone = new Set(nodes.map((n) => n.name));
      await syncPodRoutes(this.nodes().filter((n) => !gone.has(n.name)).map((n) => ({ netns: n.netns, address: n.record.address, podCidr: n.record.podCidr })));
    } finally {
      client?.close();
    }
  }

  /** The etcd the API server uses: the existing one named at creation, else the cluster's own member. */
  etcdEndpoints(): string[] {
    if (this.record.etcdEndpoints) return this.record.etcdEndpoints;
    const ports = readJsonFile(join(this.layout.etcdData, 'ports.json'), z.object({ clientPort: z.number() }).passthrough(), 'the etcd ports');
    return ports ? [`http://127.0.0.1:${ports.clientPort}`] : [];
  }

  /** The URL the nodes pull images from, while the registry runs. */
  async registryUrl(): Promise<string | undefined> {
    const pid = this.supervisor.pids().get('registry');
    if (pid === undefined || !isAlive(pid)) return undefined;
    const config = await readRegistryConfig(join(this.layout.registryDir, 'config.yml'));
    return config ? `http://${config.host ?? '127.0.0.1'}:${config.port}` : undefined;
  }

  /** What runs, as the supervisor and the API see it. */
  async status(): Promise<ClusterStatus> {
    const set = this.supervisor.readSet();
    const sup = this.supervisor.readStatus();
    const supervised = new Map((sup?.daemons ?? []).map((d) => [d.name, d]));
    const daemons: DaemonView[] = (set?.daemons ?? []).map((d) => {
      const s = supervised.get(d.name);
      const pid = s?.pid ?? d.pid;
      return {
        name: d.name, pid, running: isAlive(pid), logFile: d.logFile, restarts: s?.restarts ?? 0, state: s?.state ?? 'unsupervised',
        ...(s?.lastExit ? { lastExit: s.lastExit } : {}), ...(s?.nextRestartAt ? { nextRestartAt: s.nextRestartAt } : {}),
      };
    });
    const out: ClusterStatus = {
      id: this.id, powerState: this.record.powerState, provisioningState: this.record.provisioningState, daemons, kubeconfig: this.layout.kubeconfig,
      ...(this.record.lastError ? { lastError: this.record.lastError } : {}),
      ...(sup ? { supervisor: { pid: sup.pid, running: isAlive(sup.pid), logFile: join(this.layout.logs, 'supervisor.log') } } : {}),
    };
    if (!this.running) return out;
    if (this.apiServerUrl) out.apiServer = this.apiServerUrl;
    out.etcdEndpoints = this.etcdEndpoints();
    const registry = await this.registryUrl();
    if (registry) out.registry = registry;
    const client = this.client();
    try {
      const byName = new Map((await client.list('/api/v1/nodes')).items.map((n) => [n.metadata.name ?? '', n]));
      out.nodes = this.record.pools.flatMap((p) => p.nodes.map((n) => ({ name: n.name, pool: p.name, address: n.address, podCidr: n.podCidr, ...readiness(byName.get(n.name)) })));
      out.pods = (await client.list('/api/v1/pods')).items.length;
    } catch (err) {
      if (!isSandpodError(err)) this.log.debug('API not answering for status', { err: describeError(err) });
    } finally {
      client.close();
    }
    return out;
  }
}

const toSpec = (p: ManagedProcess): DaemonSpec => ({ name: p.name, command: p.command, args: p.args, env: p.env, logFile: p.logFile, pid: p.pid });

/** A Node's Ready condition: whether it is Ready and, if not, why. */
export function readiness(node: KubeObject | undefined): { ready: boolean; reason?: string } {
  if (!node) return { ready: false, reason: 'not registered' };
  const conditions = isRecord(node['status']) && Array.isArray(node['status']['conditions']) ? node['status']['conditions'] : [];
  const ready = conditions.find((c) => isRecord(c) && c['type'] === 'Ready') as Record<string, unknown> | undefined;
  if (ready?.['status'] === 'True') return { ready: true };
  const reason = typeof ready?.['reason'] === 'string' ? ready['reason'] : 'no Ready condition';
  return { ready: false, reason: reason === STOPPED_REASON ? `${reason} (stopped on purpose)` : reason };
}
