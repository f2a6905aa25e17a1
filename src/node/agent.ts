/**
 * The node agent (kubelet's job) for one node: registers the Node with its capacity, labels and runtime
 * facts, keeps its Lease and Ready condition fresh, and runs a pod worker for every pod bound to the node,
 * all through CRI. Each round it takes one snapshot of the runtime and lets every worker step toward its
 * pod's spec; workers run side by side, so a VM that boots for seconds does not hold up other pods.
 * Stopping the agent leaves the pods running: the next agent adopts them from the runtime.
 */
import { readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { cpus, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import type { CriClient } from '../cri/index.js';
import { describeError } from '../errors.js';
import { Informer, isRecord, kubeTime, KubeApiError, recordEvent, type KubeClient, type KubeObject } from '../kube/index.js';
import type { Logger } from '../log.js';
import { LABEL } from './cri-config.js';
import { LogRotator } from './log-rotation.js';
import { parseResolvConf } from './dns.js';
import { ObjectCache } from './object-cache.js';
import { podInfo } from './pod-spec.js';
import { PodWorker, type WorkerContext } from './pod-worker.js';
import { Lingering } from './lingering.js';
import { ORPHAN_MS } from './orphan-shims.js';
import { loneContainers, takeSnapshot, type NodeSnapshot } from './snapshot.js';
import type { LocatedPod } from './streaming/index.js';
import { removePodDir } from './volumes.js';

export const AGENT_VERSION = 'v1.32.0-sandpod';
const LEASE_DURATION_S = 40;
const LEASE_RENEW_MS = 10_000;
const STATUS_HEARTBEAT_MS = 30_000;
/** How often running containers' logs are checked against the size limit. */
const LOG_ROTATION_MS = 10_000;
/** How long a stopping agent waits for runtime calls under way (a VM sandbox can take this long to be made). */
const STOP_DRAIN_MS = 60_000;
/** RuntimeClasses can change (a node install adds one): their handler is looked up again after this long. */
const HANDLER_TTL_MS = 60_000;

export interface NodeAgentOptions {
  client: KubeClient;
  cri: CriClient;
  nodeName: string;
  /** The address the control plane reaches this node at; also each pod's hostIP. */
  hostIP: string;
  /** The port of this node's streaming server (logs, exec, attach), advertised on the Node. */
  streamingPort: number;
  /** Where CRI writes container logs (<logsRoot>/<ns>_<pod>_<uid>/<container>/<n>.log). */
  logsRoot: string;
  /** kubelet's pods directory: each pod's volumes and files (default: `pods-state` beside logsRoot). */
  podsDir?: string;
  /** The node's resolv.conf, for pods with dnsPolicy Default (default /etc/resolv.conf). */
  resolvConf?: string;
  labels?: Record<string, string>;
  taints?: Array<{ key: string; value?: string; effect: string }>;
  /** What the node offers pods (a node pool's VM size); default: this machine's CPUs and memory, 110 pods. */
  capacity?: NodeCapacity;
  podCIDR?: string;
  log: Logger;
  /** How often the runtime is relisted and every pod synced. */
  syncIntervalMs?: number;
}

const osImage = (): string => {
  try {
    return /^PRETTY_NAME="?([^"\n]+)"?/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? 'Linux';
  } catch {
    return 'Linux';
  }
};
const readId = (path: string): string => { try { return readFileSync(path, 'utf8').trim(); } catch { return ''; } };

export interface NodeCapacity { cpu: number; memoryBytes: number; pods: number }

/** Why a node agent that was stopped on purpose left its node NotReady (the node lifecycle taints it not-ready). */
export const STOPPED_REASON = 'NodeAgentStopped';

/** kubelet's pods directory of a node (volumes, termination messages) when none is named: beside its logs. */
export const defaultPodsDir = (logsRoot: string): string => join(dirname(logsRoot), 'pods-state');

export class NodeAgent {
  private informer: Informer | undefined;
  private readonly workers = new Map<string, PodWorker>();
  private readonly syncing = new Set<string>();
  private readonly inflight = new Set<Promise<void>>();
  private readonly handlers = new Map<string, { handler: string; at: number }>();
  private readonly rejected = new Map<string, string>();
  private timers: NodeJS.Timeout[] = [];
  private snapshot: NodeSnapshot = { sandboxes: [], containers: [], takenAt: 0 };
  private round: Promise<void> | undefined;
  /** Containers seen without their sandbox, removed once they have stayed so for ORPHAN_MS. */
  private readonly lone = new Lingering<string>(ORPHAN_MS);
  /** Sandboxes of gone pods whose removal failed (said once, tried every round). */
  private readonly failedRemovals = new Set<string>();
  private stopped = false;
  private lastRenewal = Date.now();
  private readonly ctx: WorkerContext;

  private readonly podsDir: string;
  private readonly rotator: LogRotator;
  private readonly capacity: NodeCapacity;

  constructor(private readonly o: NodeAgentOptions) {
    this.podsDir = o.podsDir ?? defaultPodsDir(o.logsRoot);
    this.rotator = new LogRotator(o.cri, o.logsRoot, o.log);
    this.capacity = o.capacity ?? { cpu: cpus().length, memoryBytes: totalmem(), pods: 110 };
    let resolv = '';
    try { resolv = readFileSync(o.resolvConf ?? '/etc/resolv.conf', 'utf8'); } catch { /* no resolv.conf: pods get none either */ }
    this.ctx = {
      cri: o.cri, client: o.client, log: o.log, nodeName: o.nodeName, hostIP: o.hostIP, logsRoot: o.logsRoot, podsDir: this.podsDir,
      objects: new ObjectCache(o.client), nodeDns: parseResolvConf(resolv),
      allocatable: { cpu: this.capacity.cpu, memory: this.capacity.memoryBytes, 'ephemeral-storage': 0 },
      runtimeHandler: (name) => this.runtimeHandler(name),
      wake: (uid) => setImmediate(() => this.kick(uid)),
    };
  }

  private get nodePath(): string { return `/api/v1/nodes/${this.o.nodeName}`; }

  async start(): Promise<void> {
    await this.register();
    await this.renewLease();
    this.informer = new Informer(this.o.client, `/api/v1/pods?fieldSelector=spec.nodeName%3D${this.o.nodeName}`, (e) => {
      if (e.type === 'DELETED') this.podDeleted(e.object);
      else this.podChanged(e.object);
    }, 500);
    await this.informer.start();
    await this.syncRound();
    this.timers = [
      setInterval(() => void this.syncRound(), this.o.syncIntervalMs ?? 1000),
      setInterval(() => void this.renewLease(), LEASE_RENEW_MS),
      setInterval(() => void this.heartbeat(), STATUS_HEARTBEAT_MS),
      setInterval(() => void this.rotator.rotate(this.snapshot), LOG_ROTATION_MS),
    ];
    this.o.log.info('node agent running', { node: this.o.nodeName, pods: this.informer.cache.size });
  }

  /**
   * Stops watching and syncing; the pods keep running in the runtime. What the agent has asked the runtime and
   * not heard back about (a sandbox being made) is awaited, up to STOP_DRAIN_MS, so that whoever takes the node
   * down next finds every sandbox listed.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.informer?.stop();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all([this.settled(), ...[...this.workers.values()].map((w) => w.idle())]),
      new Promise((r) => { timer = setTimeout(r, STOP_DRAIN_MS); }),
    ]);
    clearTimeout(timer);
  }

  /**
   * Says on the Node that its agent stopped on purpose (Ready=False, reason NodeAgentStopped), so the node is
   * not-ready at once instead of unreachable 40 s later; the next agent's registration makes it Ready again.
   */
  async markStopped(why: string): Promise<void> {
    const now = kubeTime();
    await this.o.client.call('PATCH', `${this.nodePath}/status`, {
      contentType: 'application/merge-patch+json',
      body: { status: { conditions: [{ type: 'Ready', status: 'False', reason: STOPPED_REASON, message: why, lastHeartbeatTime: now, lastTransitionTime: now }] } },
    });
  }

  private podChanged(pod: KubeObject): void {
    const uid = pod.metadata.uid ?? '';
    let info;
    try {
      info = podInfo(pod);
    } catch (err) {
      // Only a pod written around the API's validation gets here; say so on the pod rather than ignore it.
      const message = `the pod cannot be run on this node: ${describeError(err)}`;
      if (this.rejected.get(uid) !== message) {
        this.rejected.set(uid, message);
        this.o.log.warn('pod cannot be run', { pod: pod.metadata.name, err: describeError(err) });
        void recordEvent(this.o.client, { ...pod, apiVersion: 'v1', kind: 'Pod' }, 'Warning', 'FailedValidation', message,
          { component: 'kubelet', host: this.o.nodeName }, () => undefined);
      }
      return;
    }
    this.rejected.delete(uid);
    const w = this.workers.get(uid);
    if (w) w.update(info);
    else this.workers.set(uid, new PodWorker(info, this.ctx));
    this.kick(uid);
  }

  /** The pod is gone from the API (deleted with --force, say): its worker stops it at once. */
  private podDeleted(pod: KubeObject): void {
    const uid = pod.metadata.uid ?? '';
    this.rejected.delete(uid);
    const w = this.workers.get(uid);
    if (!w) return;
    w.deleted();
    this.kick(uid);
  }

  private kick(uid: string): void {
    const w = this.workers.get(uid);
    // Before the first relist the agent knows nothing of the runtime: a worker would take a running pod for a
    // new one. The first sync round kicks every worker.
    if (!w || this.syncing.has(uid) || this.stopped || this.snapshot.takenAt === 0) return;
    const running = w.sync(this.snapshot).finally(() => {
      this.syncing.delete(uid);
      this.inflight.delete(running);
      if (w.done) this.workers.delete(uid);
    });
    this.syncing.add(uid);
    this.inflight.add(running);
  }

  /** Resolves once the current sync round and every pod sync under way have finished. */
  async settled(): Promise<void> {
    await this.round;
    await Promise.all([...this.inflight]);
  }

  private syncRound(): Promise<void> {
    if (this.round || this.stopped) return this.round ?? Promise.resolve();
    this.round = (async () => {
      try {
        this.snapshot = await takeSnapshot(this.o.cri);
        for (const uid of this.workers.keys()) this.kick(uid);
        await this.removeOrphans();
      } catch (err) {
        this.o.log.warn('sync round failed', { err: describeError(err) });
      } finally {
        this.round = undefined;
      }
    })();
    return this.round;
  }

  /**
   * Sandboxes and pod directories of pods the API no longer has on this node (deleted while the agent was
   * down) are removed, and containers whose sandbox is gone.
   */
  private async removeOrphans(): Promise<void> {
    const known = new Set([...(this.informer?.cache.values() ?? [])].map((p) => p.metadata.uid));
    const gone = (uid: string | undefined): boolean => !!uid && !known.has(uid) && !this.workers.has(uid);
    for (const s of this.snapshot.sandboxes) {
      if (!gone(s.labels[LABEL.podUid])) continue;
      const pod = `${s.metadata?.namespace}/${s.metadata?.name}`;
      const first = !this.failedRemovals.has(s.id);
      if (first) this.o.log.info('removing the sandbox of a pod that is gone', { sandbox: s.id, pod });
      await this.o.cri.stopPodSandbox({ pod_sandbox_id: s.id }).catch(() => undefined);
      await this.o.cri.removePodSandbox({ pod_sandbox_id: s.id }).then(() => this.failedRemovals.delete(s.id), (err: unknown) => {
        // Tried again every round: said once.
        if (first) this.o.log.warn('cannot remove the sandbox of a pod that is gone; trying again', { sandbox: s.id, pod, err: describeError(err) });
        this.failedRemovals.add(s.id);
      });
    }
    for (const id of this.failedRemovals) if (!this.snapshot.sandboxes.some((s) => s.id === id)) this.failedRemovals.delete(id);
    for (const [id, sandbox] of this.lone.look(loneContainers(this.snapshot), Date.now())) {
      this.o.log.warn('removing a container whose pod sandbox the runtime no longer has', { container: id, sandbox });
      await this.o.cri.removeContainer({ container_id: id }).then(
        () => this.lone.forget(id),
        (err: unknown) => this.o.log.warn('cannot remove a container without its sandbox; will try again', { container: id, err: describeError(err) }),
      );
    }
    for (const uid of await readdir(this.podsDir).catch(() => [])) {
      if (!gone(uid) || this.snapshot.sandboxes.some((s) => s.labels[LABEL.podUid] === uid)) continue;
      this.o.log.info('removing the files of a pod that is gone', { uid });
      await removePodDir(join(this.podsDir, uid), `pod/${uid}`).catch((err: unknown) => this.o.log.warn('cannot remove a pod directory', { uid, err: describeError(err) }));
    }
  }

  private async runtimeHandler(name: string | undefined): Promise<string> {
    if (!name) return '';
    const cached = this.handlers.get(name);
    if (cached && Date.now() - cached.at < HANDLER_TTL_MS) return cached.handler;
    const rc = await this.o.client.get(`/apis/node.k8s.io/v1/runtimeclasses/${name}`);
    const handler = typeof rc['handler'] === 'string' ? rc['handler'] : '';
    this.handlers.set(name, { handler, at: Date.now() });
    return handler;
  }

  private async nodeStatus(): Promise<Record<string, unknown>> {
    const v = await this.o.cri.version({ version: 'v1' });
    const capacity = { cpu: String(this.capacity.cpu), memory: `${Math.floor(this.capacity.memoryBytes / 1024)}Ki`, pods: String(this.capacity.pods) };
    const now = kubeTime();
    return {
      capacity, allocatable: capacity,
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'sandpod node agent is posting ready status', lastHeartbeatTime: now, lastTransitionTime: now }],
      addresses: [{ type: 'InternalIP', address: this.o.hostIP }, { type: 'Hostname', address: this.o.nodeName }],
      daemonEndpoints: { kubeletEndpoint: { Port: this.o.streamingPort } },
      nodeInfo: {
        machineID: readId('/etc/machine-id'), systemUUID: '', bootID: readId('/proc/sys/kernel/random/boot_id'),
        kernelVersion: release(), osImage: osImage(), containerRuntimeVersion: `${v.runtime_name}://${v.runtime_version}`,
        kubeletVersion: AGENT_VERSION, kubeProxyVersion: '', operatingSystem: 'linux', architecture: 'amd64',
      },
    };
  }

  /** Creates the Node (or takes over the one a previous agent made) and posts its status. */
  private async register(): Promise<void> {
    const labels = { 'kubernetes.io/hostname': this.o.nodeName, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', ...this.o.labels };
    try {
      await this.o.client.create('/api/v1/nodes', {
        apiVersion: 'v1', kind: 'Node', metadata: { name: this.o.nodeName, labels },
        spec: { taints: this.o.taints ?? [], ...(this.o.podCIDR ? { podCIDR: this.o.podCIDR, podCIDRs: [this.o.podCIDR] } : {}) },
      });
    } catch (err) {
      if (!(err instanceof KubeApiError) || err.status.code !== 409) throw err;
      await this.o.client.call('PATCH', this.nodePath, { contentType: 'application/merge-patch+json', body: { metadata: { labels } } });
    }
    await this.o.client.call('PATCH', `${this.nodePath}/status`, { contentType: 'application/merge-patch+json', body: { status: await this.nodeStatus() } });
  }

  private async heartbeat(): Promise<void> {
    try {
      const node = await this.o.client.get(this.nodePath);
      const status = isRecord(node['status']) ? node['status'] : {};
      const conditions = (Array.isArray(status['conditions']) ? status['conditions'] : []) as Record<string, unknown>[];
      const now = kubeTime();
      const ready = conditions.find((c) => c['type'] === 'Ready');
      const next = ready?.['status'] === 'True'
        ? conditions.map((c) => (c['type'] === 'Ready' ? { ...c, lastHeartbeatTime: now } : c))
        : [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'sandpod node agent is posting ready status', lastHeartbeatTime: now, lastTransitionTime: now }];
      await this.o.client.call('PATCH', `${this.nodePath}/status`, { contentType: 'application/merge-patch+json', body: { status: { conditions: next } } });
    } catch (err) {
      this.o.log.warn('node heartbeat failed', { err: describeError(err) });
    }
  }

  private async renewLease(): Promise<void> {
    const path = `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${this.o.nodeName}`;
    const spec = { holderIdentity: this.o.nodeName, leaseDurationSeconds: LEASE_DURATION_S, renewTime: new Date().toISOString().replace('Z', '000Z') };
    try {
      await this.o.client.call('PATCH', path, { contentType: 'application/merge-patch+json', body: { spec } });
      // Back after a lease's length without renewing (the agent was frozen or cut off): the node lifecycle has marked
      // the node unreachable by now; post Ready at once instead of at the next status heartbeat.
      if (Date.now() - this.lastRenewal > LEASE_DURATION_S * 1000) void this.heartbeat();
      this.lastRenewal = Date.now();
    } catch (err) {
      if (!(err instanceof KubeApiError) || err.status.code !== 404) {
        this.o.log.warn('lease renewal failed', { err: describeError(err) });
        return;
      }
      await this.o.client.create('/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', {
        apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: this.o.nodeName, namespace: 'kube-node-lease' }, spec,
      }).catch((e: unknown) => this.o.log.warn('lease creation failed', { err: describeError(e) }));
    }
  }

  /** For the streaming server: the log file and id of a container's current or previous instance. */
  async locate(namespace: string, pod: string, container: string, opts: { previous: boolean }): Promise<{ containerId: string; logPath: string; running: boolean } | undefined> {
    const w = [...this.workers.values()].find((x) => x.info.namespace === namespace && x.info.name === pod);
    if (!w) return undefined;
    return w.locate(await takeSnapshot(this.o.cri), container, opts.previous);
  }

  /** For the streaming server (port-forward): a pod's newest sandbox, its IP and runtime handler. */
  async locatePod(namespace: string, pod: string): Promise<LocatedPod | undefined> {
    const w = [...this.workers.values()].find((x) => x.info.namespace === namespace && x.info.name === pod);
    if (!w) return undefined;
    const { items } = await this.o.cri.listPodSandbox({ filter: { label_selector: { [LABEL.podUid]: w.info.uid } } });
    const sandbox = items.sort((a, b) => (b.metadata?.attempt ?? 0) - (a.metadata?.attempt ?? 0) || b.created_at - a.created_at)[0];
    if (!sandbox) return undefined;
    const { status } = await this.o.cri.podSandboxStatus({ pod_sandbox_id: sandbox.id });
    return { sandboxId: sandbox.id, ready: sandbox.state === 'SANDBOX_READY', podIP: status?.network?.ip || undefined, runtimeHandler: sandbox.runtime_handler };
  }
}
