/**
 * One pod on this node, driven toward its spec through CRI, as kubelet's pod worker does. The pod moves through
 * explicit states:
 *
 *   Setup ──▶ Running ──▶ Finished            (Succeeded or Failed: the sandbox is stopped, volumes removed)
 *     │          │            │
 *     └──────────┴────────────┴──▶ Terminating ──▶ Gone   (deleted: graceful, or at once when force-deleted)
 *
 * Setup makes the pod's volumes and its sandbox (a VM for the sandpod-vm handler; a slow creation is awaited in
 * the background, never started twice). Running drives init containers in order (sidecars stay up), then the
 * containers, restarted per restartPolicy with back-off, probed, with lifecycle hooks. Every sync starts from
 * what the runtime reports (the node's snapshot), so an agent that restarts adopts what already runs, and every
 * sync ends with one status write that says everything at once.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ContainerStatus, CriClient, DNSConfig } from '../cri/index.js';
import { describeError, isSandpodError } from '../errors.js';
import {
  isRecord, isSidecar, kubeTime, latestTag, recordEvent, type Container, type EventType, type KubeClient, type KubeObject,
} from '../kube/index.js';
import type { Logger } from '../log.js';
import { Backoff } from './backoff.js';
import { containerConfig, LABEL, podHostname, podLogDirectory, RESTART_COUNT_ANNOTATION, sandboxConfig, type ContainerExtras } from './cri-config.js';
import { podDnsConfig, type ClusterDns } from './dns.js';
import type { PodFacts } from './downward.js';
import { ContainerConfigError, containerEnv, expandCommand } from './env.js';
import type { ObjectCache } from './object-cache.js';
import type { PodInfo } from './pod-spec.js';
import { ContainerProber, type ProbeKind, type ProbeVerdict } from './prober.js';
import { runHandler, type ProbeResult } from './probes.js';
import { referencedObjects, type ProjectionSources } from './projection.js';
import { pullAuth } from './pull-auth.js';
import { removeInstanceLogs, removePodLogs } from './log-rotation.js';
import type { NodeSnapshot } from './snapshot.js';
import { podPhase, podStatus, type ContainerView, type Instance, type PodView } from './status.js';
import { lastLogLines } from './termination.js';
import { MEMORY_VOLUMES_ANNOTATION, PodVolumes } from './volumes.js';

export interface WorkerContext {
  cri: CriClient;
  client: KubeClient;
  log: Logger;
  nodeName: string;
  hostIP: string;
  logsRoot: string;
  /** kubelet's pods directory: each pod's volumes and files under <podsDir>/<uid>. */
  podsDir: string;
  objects: ObjectCache;
  /** The node's resolv.conf, parsed. */
  nodeDns: DNSConfig;
  clusterDns?: ClusterDns;
  allocatable: PodFacts['allocatable'];
  /** The CRI runtime handler for a RuntimeClass name ('' for the default runtime). */
  runtimeHandler(runtimeClassName: string | undefined): Promise<string>;
  /** Asks for another sync of this pod soon (a probe finished). */
  wake(uid: string): void;
}

export type PodState = 'Setup' | 'Running' | 'Finished' | 'Terminating' | 'Gone';

interface ContainerState {
  backoff: Backoff;
  /** The instance whose exit started the current back-off (so one crash is counted once). */
  crashSeen?: string;
  waiting?: { reason: string; message?: string };
  prober?: ContainerProber;
  /** The instance the prober belongs to. */
  probed?: string;
  /** Termination messages of exited instances, read once. */
  messages: Map<string, string>;
  /** The last instance this worker created, and when (the node's snapshot may not show it yet). */
  created?: { id: string; at: number };
}

/** RunPodSandbox may wait for a VM template to be made: far longer than other calls. */
const SANDBOX_TIMEOUT_MS = 10 * 60_000;
/** How long after containerd said a sandbox name is reserved the worker waits before asking again. */
const RESERVED_RETRY_MS = 2000;
/** How often volumes are refreshed from ConfigMaps and Secrets once set up, and emptyDir usage is measured. */
const VOLUME_REFRESH_MS = 10_000;
const nsToMs = (ns: number): number => Math.floor(ns / 1e6);

/** What the runtime's ContainerStatus says, as a status Instance. */
function instanceOf(s: ContainerStatus): Instance {
  const state = s.state === 'CONTAINER_RUNNING' ? 'running' : s.state === 'CONTAINER_EXITED' ? 'exited' : s.state === 'CONTAINER_CREATED' ? 'created' : 'unknown';
  return {
    id: s.id, attempt: s.metadata?.attempt ?? 0, state, startedAt: s.started_at, finishedAt: s.finished_at,
    exitCode: s.exit_code, reason: s.reason, message: s.message, imageRef: s.image_ref,
  };
}

const pullPolicy = (c: Container): string => c.imagePullPolicy ?? (latestTag(c.image ?? '') ? 'Always' : 'IfNotPresent');

export class PodWorker {
  private pod: PodInfo;
  private state: PodState = 'Setup';
  private readonly containers = new Map<string, ContainerState>();
  private readonly volumes: PodVolumes;
  /** The pod's ready sandbox; `createdAt` when this worker made it (the node's snapshot may not show it yet). */
  private sandbox: { id: string; attempt: number; podIP?: string; vm: boolean; createdAt?: number } | undefined;
  /** Until when a sandbox name containerd still reserves is not asked for again. */
  private reservedUntil = 0;
  /** A RunPodSandbox under way; syncs wait for it instead of asking again. */
  private creating: Promise<void> | undefined;
  private readonly sandboxBackoff = new Backoff(1000, 60_000);
  private vm: boolean | undefined;
  private startTime: string | undefined;
  private failed: { reason: string; message: string } | undefined;
  private volumesAt = 0;
  private usageAt = 0;
  private lastMountError = '';
  private lastStatus = '';
  /** The API object is gone (force deletion): stop at once, nothing to confirm. */
  private deletedFromApi = false;
  private readonly terminateBackoff = new Backoff(1000, 30_000);
  private dnsReported = false;
  /** ContainerStatus of instances that have exited never changes: asked once. */
  private readonly exitedCache = new Map<string, ContainerStatus>();
  /** Old container instances and earlier sandboxes being removed (garbage collection). */
  private readonly removing = new Set<string>();
  /** Earlier sandboxes of the pod already stopped (each is stopped once, then left for removal). */
  private readonly stoppedSandboxes = new Set<string>();
  private readonly log: Logger;

  constructor(pod: PodInfo, private readonly ctx: WorkerContext) {
    this.pod = pod;
    this.log = ctx.log.child({ pod: `${pod.namespace}/${pod.name}` });
    this.volumes = new PodVolumes(ctx.podsDir, pod.uid);
  }

  get info(): PodInfo { return this.pod; }
  get done(): boolean { return this.state === 'Gone'; }
  get current(): PodState { return this.state; }
  /** The pod's sandbox, IP and runtime, once it has one (for port-forward and stats). */
  get sandboxInfo(): { id: string; podIP?: string; vm: boolean } | undefined { return this.sandbox; }

  update(pod: PodInfo): void { this.pod = pod; }

  /** Resolves once no sandbox creation of this pod is under way. */
  async idle(): Promise<void> { await this.creating; }

  /** The API no longer has the pod (deleted with --force, or removed while this node was away). */
  deleted(): void { this.deletedFromApi = true; }

  private containerState(name: string): ContainerState {
    let s = this.containers.get(name);
    if (!s) {
      s = { backoff: new Backoff(), messages: new Map() };
      this.containers.set(name, s);
    }
    return s;
  }

  private event(type: EventType, reason: string, message: string): void {
    if (this.deletedFromApi) return;
    void recordEvent(this.ctx.client, { ...this.pod.object, apiVersion: 'v1', kind: 'Pod' }, type, reason, message,
      { component: 'kubelet', host: this.ctx.nodeName }, (err) => this.log.warn('could not record event', { reason, err: describeError(err) }));
  }

  /** One step toward the spec, from the node's current snapshot. Never throws: failures become status and events. */
  async sync(snap: NodeSnapshot): Promise<void> {
    if (this.state === 'Gone') return;
    try {
      if (this.deletedFromApi || this.pod.object.metadata.deletionTimestamp) {
        this.state = 'Terminating';
        await this.terminate(snap);
        return;
      }
      const view = this.state === 'Finished' ? await this.finishedView(snap) : await this.reconcile(snap);
      await this.report(view);
    } catch (err) {
      this.log.warn('pod sync failed', { state: this.state, err: describeError(err) });
    }
  }

  private facts(): PodFacts {
    return { nodeName: this.ctx.nodeName, hostIP: this.ctx.hostIP, ...(this.sandbox?.podIP ? { podIP: this.sandbox.podIP } : {}), allocatable: this.ctx.allocatable };
  }

  private sources(): ProjectionSources {
    const ns = this.pod.namespace;
    return { configMap: (n) => this.ctx.objects.get('configmaps', ns, n), secret: (n) => this.ctx.objects.get('secrets', ns, n) };
  }

  private async refreshObjects(): Promise<void> {
    const refs = referencedObjects(this.pod.spec);
    await Promise.all([
      this.ctx.objects.refresh('configmaps', this.pod.namespace, refs.configMaps),
      this.ctx.objects.refresh('secrets', this.pod.namespace, refs.secrets),
    ]).catch((err: unknown) => this.log.warn('cannot read the pod\'s ConfigMaps and Secrets', { err: describeError(err) }));
  }

  private base(): Pick<PodView, 'spec' | 'hostIP' | 'podIP' | 'startTime' | 'failed' | 'sandboxReady'> {
    return {
      spec: this.pod.spec, hostIP: this.ctx.hostIP,
      ...(this.sandbox?.podIP ? { podIP: this.sandbox.podIP } : {}),
      ...(this.startTime ? { startTime: this.startTime } : {}),
      ...(this.failed ? { failed: this.failed } : {}),
      sandboxReady: this.sandbox !== undefined && this.state === 'Running',
    };
  }

  private waitingView(reason: string, message?: string): PodView {
    const waiting = (c: Container): ContainerView => ({ spec: c, restartCount: 0, ready: false, waiting: { reason, ...(message ? { message } : {}) } });
    return { ...this.base(), init: (this.pod.spec.initContainers ?? []).map(waiting), containers: this.pod.spec.containers.map(waiting) };
  }

  // ── Setup ────────────────────────────────────────────────────────────────────────────────────────────────

  private async isVm(): Promise<boolean> {
    if (this.vm === undefined) {
      const handler = await this.ctx.runtimeHandler(this.pod.spec.runtimeClassName);
      this.vm = handler === 'sandpod-vm';
    }
    return this.vm;
  }

  /**
   * Volumes ready and fresh (refreshed every VOLUME_REFRESH_MS once set up); a FailedMount event, once per
   * distinct error, when one cannot be set up. Returns the error, if any.
   */
  private async setUpVolumes(vm: boolean): Promise<string | undefined> {
    const now = Date.now();
    if (this.volumesAt !== 0 && now - this.volumesAt < VOLUME_REFRESH_MS) return undefined;
    await this.refreshObjects();
    try {
      const changed = await this.volumes.setUp(this.pod.object, this.pod.spec, this.facts(), this.sources(), vm);
      if (this.volumesAt !== 0 && changed.length > 0) this.log.info('volumes updated', { volumes: changed });
      this.volumesAt = now;
      this.lastMountError = '';
      return undefined;
    } catch (err) {
      const message = describeError(err).replace(/^volume\/[^:]+: /, '');
      if (message !== this.lastMountError) this.event('Warning', 'FailedMount', message);
      this.lastMountError = message;
      return message;
    }
  }

  private sandboxOf(snap: NodeSnapshot): { id: string; ready: boolean; attempt: number } | undefined {
    const mine = snap.sandboxes.filter((s) => s.labels[LABEL.podUid] === this.pod.uid)
      .sort((a, b) => (b.metadata?.attempt ?? 0) - (a.metadata?.attempt ?? 0) || b.created_at - a.created_at);
    const s = mine[0];
    return s ? { id: s.id, ready: s.state === 'SANDBOX_READY', attempt: s.metadata?.attempt ?? 0 } : undefined;
  }

  private dnsConfig(): DNSConfig {
    const { config, missingClusterDns } = podDnsConfig(this.pod.spec, this.pod.namespace, this.ctx.nodeDns, this.ctx.clusterDns);
    if (missingClusterDns && !this.dnsReported) {
      this.dnsReported = true;
      this.event('Warning', 'MissingClusterDNS', `pod: "${this.pod.name}_${this.pod.namespace}(${this.pod.uid})". kubelet does not have ClusterDNS IP configured and cannot create Pod using "ClusterFirst" policy. Falling back to "Default" policy.`);
    }
    return config;
  }

  private sandboxRequest(attempt: number): ReturnType<typeof sandboxConfig> {
    const memory = this.vm ? this.volumes.memoryVolumes(this.pod.spec) : undefined;
    return sandboxConfig(this.pod, this.ctx.logsRoot, attempt, {
      dns: this.dnsConfig(),
      ...(memory ? { annotations: { [MEMORY_VOLUMES_ANNOTATION]: JSON.stringify(memory) } } : {}),
    });
  }

  /** The ready sandbox's id; starts creating one (in the background) when there is none. */
  private async ensureSandbox(snap: NodeSnapshot): Promise<string | undefined> {
    const found = this.sandboxOf(snap);
    // A sandbox this worker made after the snapshot was taken is not in it yet: it must not be asked for again.
    const own = this.sandbox;
    if (own?.createdAt !== undefined && own.createdAt >= snap.takenAt - 1000 && found?.id !== own.id) return own.id;
    if (found?.ready) {
      if (found.id !== this.sandbox?.id) await this.adoptSandbox(found.id);
      return found.id;
    }
    if (this.creating || this.sandboxBackoff.remaining(Date.now()) > 0 || Date.now() < this.reservedUntil) return undefined;
    if (found) {
      // The sandbox died (a VM pod's QEMU was killed, say): its containers are gone with it; start over.
      this.event('Normal', 'SandboxChanged', 'Pod sandbox changed, it will be killed and re-created.');
      await this.ctx.cri.stopPodSandbox({ pod_sandbox_id: found.id }).catch(() => undefined);
      this.sandbox = undefined;
    }
    const attempt = found ? found.attempt + 1 : 0;
    this.creating = this.createSandbox(attempt).finally(() => {
      this.creating = undefined;
      this.ctx.wake(this.pod.uid);
    });
    return undefined;
  }

  private async adoptSandbox(id: string): Promise<void> {
    const { status } = await this.ctx.cri.podSandboxStatus({ pod_sandbox_id: id });
    this.sandbox = { id, attempt: status?.metadata?.attempt ?? 0, vm: await this.isVm(), ...(status?.network?.ip ? { podIP: status.network.ip } : {}) };
    this.startTime ??= kubeTime(new Date(nsToMs(status?.created_at ?? Date.now() * 1e6)));
  }

  private async createSandbox(attempt: number): Promise<void> {
    const handler = await this.ctx.runtimeHandler(this.pod.spec.runtimeClassName);
    await mkdir(podLogDirectory(this.ctx.logsRoot, this.pod), { recursive: true });
    const t0 = Date.now();
    try {
      const { pod_sandbox_id: id } = await this.ctx.cri.runPodSandbox({ config: this.sandboxRequest(attempt), runtime_handler: handler }, { timeoutMs: SANDBOX_TIMEOUT_MS });
      await this.adoptSandbox(id);
      if (this.sandbox?.id === id) this.sandbox.createdAt = Date.now();
      this.log.info('pod sandbox ready', { sandbox: id, handler: handler || 'default', podIP: this.sandbox?.podIP, ms: Date.now() - t0 });
    } catch (err) {
      // containerd still creating a sandbox of this name (after an agent restart): the next snapshot shows it.
      if (isSandpodError(err) && /name .* is reserved/.test(err.message)) {
        this.log.info('the pod sandbox is still being created by the runtime', { attempt });
        // Asked again only once a later snapshot could show it.
        this.reservedUntil = Date.now() + RESERVED_RETRY_MS;
        return;
      }
      const delay = this.sandboxBackoff.crashed(Date.now(), 0);
      this.event('Warning', 'FailedCreatePodSandBox', `Failed to create pod sandbox: ${describeError(err)}`);
      this.log.warn('cannot create the pod sandbox', { err: describeError(err), retryInMs: delay });
    }
  }

  // ── Running ──────────────────────────────────────────────────────────────────────────────────────────────

  private async reconcile(snap: NodeSnapshot): Promise<PodView> {
    this.checkDeadline();
    if (this.failed) return this.finish(snap);
    const mountError = await this.setUpVolumes(await this.isVm());
    if (mountError && this.volumesAt === 0) return this.waitingView('ContainerCreating');
    const sandbox = await this.ensureSandbox(snap);
    if (!sandbox) return this.waitingView('ContainerCreating');
    this.state = 'Running';
    if (await this.overEmptyDirLimit()) return this.finish(snap);
    this.collectGarbage(snap);
    this.collectSandboxes(snap, sandbox);
    const init: ContainerView[] = [];
    const containers: ContainerView[] = [];
    let initDone = true;
    for (const c of this.pod.spec.initContainers ?? []) {
      const v = await this.view(snap, c);
      init.push(v);
      if (!initDone) continue;
      if (isSidecar(c)) {
        await this.drive(v, 'sidecar');
        if (!(v.current?.state === 'running' && !v.waiting && v.started)) initDone = false;
        continue;
      }
      if (v.current?.state === 'exited' && v.current.exitCode === 0) {
        this.containerState(c.name).waiting = undefined;
        delete v.waiting;
        continue;
      }
      initDone = false;
      await this.drive(v, 'init');
    }
    for (const c of this.pod.spec.containers) {
      const v = await this.view(snap, c);
      containers.push(v);
      if (initDone && !this.failed) await this.drive(v, 'app');
    }
    const view: PodView = { ...this.base(), init, containers };
    const phase = podPhase(view);
    if (phase === 'Succeeded' || phase === 'Failed') return this.finish(snap, view);
    return view;
  }

  /** kubelet's activeDeadlineSeconds: a pod active longer than that fails, and its containers are killed. */
  private checkDeadline(): void {
    const deadline = this.pod.spec.activeDeadlineSeconds;
    if (!deadline || !this.startTime || this.failed) return;
    if (Date.now() - Date.parse(this.startTime) < deadline * 1000) return;
    this.failed = { reason: 'DeadlineExceeded', message: 'Pod was active on the node longer than the specified deadline' };
    this.event('Normal', 'DeadlineExceeded', this.failed.message);
  }

  /** kubelet's eviction for an emptyDir grown past its sizeLimit, measured every VOLUME_REFRESH_MS. */
  private async overEmptyDirLimit(): Promise<boolean> {
    if (Date.now() - this.usageAt < VOLUME_REFRESH_MS) return false;
    this.usageAt = Date.now();
    for (const u of await this.volumes.emptyDirUsage(this.pod.spec)) {
      if (u.bytes <= u.limit) continue;
      this.failed = { reason: 'Evicted', message: `Usage of EmptyDir volume "${u.volume}" exceeds the limit "${u.limit}".` };
      this.event('Warning', 'Evicted', this.failed.message);
      return true;
    }
    return false;
  }

  /**
   * The instances of container `name`, newest first, in any sandbox of the pod: after a sandbox died (its VM
   * was killed) the last instance is the one that died with it, and the next one continues its count.
   */
  private async instances(snap: NodeSnapshot, name: string): Promise<Instance[]> {
    const listed = snap.containers.filter((c) => c.labels[LABEL.podUid] === this.pod.uid && c.labels[LABEL.containerName] === name)
      .map((c) => ({ id: c.id, createdAt: c.created_at }));
    // A container this worker created after the snapshot was taken is not in it yet: it must not be made twice.
    const own = this.containerState(name).created;
    if (own && !listed.some((c) => c.id === own.id) && own.at >= snap.takenAt - 1000) listed.push({ id: own.id, createdAt: Number.POSITIVE_INFINITY });
    const out: Instance[] = [];
    for (const c of listed.sort((a, b) => b.createdAt - a.createdAt).slice(0, 2)) {
      let s = this.exitedCache.get(c.id);
      if (!s) {
        s = (await this.ctx.cri.containerStatus({ container_id: c.id }).catch(() => ({ status: null }))).status ?? undefined;
        if (s?.state === 'CONTAINER_EXITED') {
          this.exitedCache.set(c.id, s);
          // A crash-looping pod makes an instance per restart: remember only the latest few.
          if (this.exitedCache.size > 16) this.exitedCache.delete(this.exitedCache.keys().next().value ?? '');
        }
      }
      if (s) out.push(await this.withMessage(name, instanceOf(s)));
    }
    return out;
  }

  /**
   * kubelet's container garbage collection: of each container, the current instance and the one before it
   * (for `logs --previous` and lastState) are kept; older exited ones are removed with their log and
   * termination files, so a pod that crash-loops for a day holds two containers, not hundreds.
   */
  private collectGarbage(snap: NodeSnapshot): void {
    const byName = new Map<string, NodeSnapshot['containers']>();
    for (const c of snap.containers) {
      if (c.labels[LABEL.podUid] !== this.pod.uid) continue;
      const name = c.labels[LABEL.containerName] ?? '';
      byName.set(name, [...(byName.get(name) ?? []), c]);
    }
    for (const [name, list] of byName) {
      for (const c of list.sort((a, b) => b.created_at - a.created_at).slice(2)) {
        if (c.state !== 'CONTAINER_EXITED' || this.removing.has(c.id)) continue;
        this.removing.add(c.id);
        const attempt = c.metadata?.attempt ?? 0;
        void this.ctx.cri.removeContainer({ container_id: c.id })
          .then(() => Promise.all([removeInstanceLogs(join(podLogDirectory(this.ctx.logsRoot, this.pod), name), attempt), this.volumes.forgetInstance(name, attempt)]))
          .catch((err: unknown) => this.log.warn('cannot remove an old container', { container: name, id: c.id, err: describeError(err) }))
          .finally(() => { this.removing.delete(c.id); this.exitedCache.delete(c.id); });
      }
    }
  }

  /**
   * The pod's other sandboxes, as kubelet treats them: each is stopped (a VM left by a sandbox containerd lost
   * track of while it was being made goes with it), and all but the newest are removed (the newest keeps the
   * last container instances, whose count the next ones continue).
   */
  private collectSandboxes(snap: NodeSnapshot, current: string): void {
    const old = snap.sandboxes.filter((s) => s.labels[LABEL.podUid] === this.pod.uid && s.id !== current).sort((a, b) => b.created_at - a.created_at);
    old.forEach((s, i) => {
      const remove = i > 0;
      if (this.removing.has(s.id) || (!remove && this.stoppedSandboxes.has(s.id))) return;
      this.removing.add(s.id);
      void this.ctx.cri.stopPodSandbox({ pod_sandbox_id: s.id })
        .then(async () => {
          this.stoppedSandboxes.add(s.id);
          if (remove) await this.ctx.cri.removePodSandbox({ pod_sandbox_id: s.id });
        })
        .catch((err: unknown) => this.log.warn('cannot stop or remove an earlier sandbox of the pod; tried again on the next sync', { sandbox: s.id, err: describeError(err) }))
        .finally(() => this.removing.delete(s.id));
    });
  }

  /** An exited instance's termination message: its file, or its last log lines when the policy says so. */
  private async withMessage(name: string, i: Instance): Promise<Instance> {
    if (i.state !== 'exited') return i;
    const st = this.containerState(name);
    let message = st.messages.get(i.id);
    if (message === undefined) {
      const c = this.pod.spec.containers.find((x) => x.name === name) ?? this.pod.spec.initContainers?.find((x) => x.name === name);
      message = await this.volumes.terminationMessage(name, i.attempt);
      if (message === '' && i.exitCode !== 0 && c?.terminationMessagePolicy === 'FallbackToLogsOnError') {
        message = await lastLogLines(join(podLogDirectory(this.ctx.logsRoot, this.pod), name, `${i.attempt}.log`));
      }
      st.messages.set(i.id, message);
      if (st.messages.size > 4) st.messages.delete(st.messages.keys().next().value ?? '');
    }
    return message ? { ...i, message } : i;
  }

  private async view(snap: NodeSnapshot, c: Container): Promise<ContainerView> {
    const [current, previous] = await this.instances(snap, c.name);
    const st = this.containerState(c.name);
    const restartCount = current ? Number(snap.containers.find((x) => x.id === current.id)?.annotations[RESTART_COUNT_ANNOTATION] ?? current.attempt) : 0;
    const probed = current?.state === 'running' && st.probed === current.id ? st.prober : undefined;
    return {
      spec: c, restartCount, ready: probed?.isReady ?? !c.readinessProbe, started: probed?.isStarted ?? !c.startupProbe,
      ...(current ? { current } : {}), ...(previous ? { previous } : {}), ...(st.waiting ? { waiting: st.waiting } : {}),
    };
  }

  private shouldRestart(i: Instance, kind: 'init' | 'sidecar' | 'app'): boolean {
    if (kind === 'sidecar') return true;
    const policy = this.pod.spec.restartPolicy;
    return policy === 'Always' || (policy === 'OnFailure' && i.exitCode !== 0) || (kind === 'init' && policy !== 'Never' && i.exitCode !== 0);
  }

  /** Starts, restarts (after back-off) or probes one container; updates the view's waiting reason and readiness. */
  private async drive(v: ContainerView, kind: 'init' | 'sidecar' | 'app'): Promise<void> {
    const st = this.containerState(v.spec.name);
    const cur = v.current;
    if (cur?.state === 'running') {
      st.waiting = undefined;
      delete v.waiting;
      this.probe(v, st, cur);
      return;
    }
    if (cur?.state === 'created') {
      // Created but never started (the agent stopped in between): start it now.
      await this.ctx.cri.startContainer({ container_id: cur.id }).catch((err: unknown) => this.log.warn('cannot start a created container', { container: v.spec.name, err: describeError(err) }));
      return;
    }
    if (cur?.state === 'exited') {
      st.prober?.stop();
      if (!this.shouldRestart(cur, kind)) {
        st.waiting = undefined;
        delete v.waiting;
        if (kind === 'init') this.failed = { reason: 'Failed', message: `init container ${v.spec.name} exited with ${cur.exitCode}` };
        return;
      }
      if (st.crashSeen !== cur.id) {
        st.crashSeen = cur.id;
        const delay = st.backoff.crashed(Date.now(), nsToMs(cur.finishedAt) - nsToMs(cur.startedAt));
        if (cur.exitCode !== 0) this.event('Warning', 'BackOff', `Back-off restarting failed container ${v.spec.name} in pod ${this.pod.name}_${this.pod.namespace}(${this.pod.uid})`);
        this.log.info('container exited; restarting after back-off', { container: v.spec.name, exitCode: cur.exitCode, delayMs: delay });
      }
      const left = st.backoff.remaining(Date.now());
      if (left > 0) {
        st.waiting = { reason: 'CrashLoopBackOff', message: `back-off ${Math.round(st.backoff.currentDelayMs / 1000)}s restarting failed container=${v.spec.name} pod=${this.pod.name}_${this.pod.namespace}(${this.pod.uid})` };
        v.waiting = st.waiting;
        return;
      }
    }
    await this.start(v, st, cur ? cur.attempt + 1 : 0, cur ? v.restartCount + 1 : 0);
  }

  private async pull(c: Container, st: ContainerState): Promise<boolean> {
    const image = c.image ?? '';
    const policy = pullPolicy(c);
    const present = (await this.ctx.cri.imageStatus({ image: { image } }).catch(() => ({ image: null }))).image !== null;
    if (present && policy !== 'Always') {
      if (policy === 'IfNotPresent') this.event('Normal', 'Pulled', `Container image "${image}" already present on machine`);
      return true;
    }
    if (policy === 'Never') {
      st.waiting = { reason: 'ErrImageNeverPull', message: `Container image "${image}" is not present with pull policy of Never` };
      this.event('Warning', 'ErrImageNeverPull', st.waiting.message ?? '');
      return false;
    }
    this.event('Normal', 'Pulling', `Pulling image "${image}"`);
    const t0 = Date.now();
    try {
      const auth = pullAuth(image, (this.pod.spec.imagePullSecrets ?? []).map((s) => this.ctx.objects.get('secrets', this.pod.namespace, s.name ?? '')));
      await this.ctx.cri.pullImage({ image: { image }, ...(auth ? { auth } : {}) });
      this.event('Normal', 'Pulled', `Successfully pulled image "${image}" in ${((Date.now() - t0) / 1000).toFixed(3)}s`);
      return true;
    } catch (err) {
      st.waiting = { reason: 'ErrImagePull', message: describeError(err) };
      this.event('Warning', 'Failed', `Failed to pull image "${image}": ${describeError(err)}`);
      return false;
    }
  }

  /** kubelet's runAsNonRoot check: the user the container will run as must not be root. */
  private async checkNonRoot(c: Container): Promise<void> {
    const nonRoot = c.securityContext?.runAsNonRoot ?? this.pod.spec.securityContext?.runAsNonRoot;
    if (!nonRoot) return;
    const uid = c.securityContext?.runAsUser ?? this.pod.spec.securityContext?.runAsUser;
    if (uid === 0) throw new ContainerConfigError(`container's runAsUser breaks non-root policy (pod: "${this.pod.name}_${this.pod.namespace}(${this.pod.uid})", container: ${c.name})`);
    if (uid !== undefined) return;
    const { image } = await this.ctx.cri.imageStatus({ image: { image: c.image ?? '' } });
    const user = image?.username || String(image?.uid?.value ?? 0);
    if (user === '0' || user === 'root') throw new ContainerConfigError(`container has runAsNonRoot and image will run as root (pod: "${this.pod.name}_${this.pod.namespace}(${this.pod.uid})", container: ${c.name})`);
    if (!/^\d+$/.test(user)) throw new ContainerConfigError(`container has runAsNonRoot and image has non-numeric user (${user}), cannot verify user is non-root (pod: "${this.pod.name}_${this.pod.namespace}(${this.pod.uid})", container: ${c.name})`);
  }

  /** The container's environment, command and mounts for one instance. */
  private async containerExtras(c: Container, attempt: number): Promise<ContainerExtras> {
    await this.checkNonRoot(c);
    const { env, warnings } = containerEnv(this.pod.object, this.pod.spec, c, this.facts(), this.sources());
    for (const w of warnings) this.event('Warning', 'InvalidEnvironmentVariableNames', w);
    const { command, args } = expandCommand(c, env);
    const mounts = await this.volumes.mounts(this.pod.spec, c, new Map(env));
    const has = (path: string): boolean => mounts.some((m) => m.container_path === path);
    if (c.terminationMessagePath && !has(c.terminationMessagePath)) {
      mounts.push({ container_path: c.terminationMessagePath, host_path: await this.volumes.terminationLog(c.name, attempt) });
    }
    if (!this.pod.spec.hostNetwork && !has('/etc/hosts')) {
      const { hostname, fqdn } = podHostname(this.pod);
      mounts.push({ container_path: '/etc/hosts', host_path: await this.volumes.etcHosts(this.sandbox?.podIP, hostname, fqdn, this.pod.spec) });
    }
    return { env, command, args, mounts };
  }

  private async start(v: ContainerView, st: ContainerState, attempt: number, restartCount: number): Promise<void> {
    const c = v.spec;
    if (!this.sandbox) return;
    if (!(await this.pull(c, st))) {
      if (st.waiting) v.waiting = st.waiting;
      return;
    }
    let extras: ContainerExtras;
    try {
      extras = await this.containerExtras(c, attempt);
    } catch (err) {
      const message = describeError(err).replace(/^volume\/[^:]+: /, '');
      const reason = err instanceof ContainerConfigError ? 'CreateContainerConfigError' : 'CreateContainerError';
      if (st.waiting?.message !== message) this.event('Warning', 'Failed', `Error: ${message}`);
      st.waiting = { reason, message };
      v.waiting = st.waiting;
      return;
    }
    try {
      await mkdir(join(podLogDirectory(this.ctx.logsRoot, this.pod), c.name), { recursive: true });
      const { container_id: id } = await this.ctx.cri.createContainer({
        pod_sandbox_id: this.sandbox.id,
        config: containerConfig(this.pod, c, attempt, restartCount, extras),
        sandbox_config: this.sandboxRequest(this.sandbox.attempt),
      });
      st.created = { id, at: Date.now() };
      this.event('Normal', 'Created', `Created container ${c.name}`);
      await this.ctx.cri.startContainer({ container_id: id });
      this.event('Normal', 'Started', `Started container ${c.name}`);
      st.waiting = undefined;
      delete v.waiting;
      v.restartCount = restartCount;
      const started = (await this.ctx.cri.containerStatus({ container_id: id }).catch(() => ({ status: null }))).status;
      if (v.current) v.previous = v.current;
      v.current = started ? instanceOf(started) : { id, attempt, state: 'running', startedAt: Date.now() * 1e6, finishedAt: 0, exitCode: 0, reason: '', message: '', imageRef: '' };
      this.log.info('container started', { container: c.name, id, attempt });
      if (c.lifecycle?.postStart) await this.postStart(c, id);
      this.probe(v, st, v.current);
    } catch (err) {
      st.waiting = { reason: 'CreateContainerError', message: describeError(err) };
      v.waiting = st.waiting;
      this.event('Warning', 'Failed', `Error: ${describeError(err)}`);
    }
  }

  private handlerTarget(c: Container, containerId: string, timeoutSeconds: number): Parameters<typeof runHandler>[1] {
    return { cri: this.ctx.cri, containerId, container: c, podIP: this.sandbox?.podIP, timeoutSeconds };
  }

  /** postStart runs right after the start; when it fails the container is killed, and restarts per policy. */
  private async postStart(c: Container, id: string): Promise<void> {
    const h = c.lifecycle?.postStart;
    if (!h) return;
    const r = await runHandler(h, this.handlerTarget(c, id, this.pod.spec.terminationGracePeriodSeconds ?? 30));
    if (r.ok) return;
    this.event('Warning', 'FailedPostStartHook', `PostStartHook failed: ${r.message}`);
    this.event('Normal', 'Killing', `FailedPostStartHook`);
    await this.ctx.cri.stopContainer({ container_id: id, timeout: this.pod.spec.terminationGracePeriodSeconds ?? 30 }).catch(() => undefined);
  }

  /** Keeps a prober for the running instance and applies its verdicts to the view. */
  private probe(v: ContainerView, st: ContainerState, cur: Instance): void {
    const c = v.spec;
    if (st.probed !== cur.id) {
      st.prober?.stop();
      st.probed = cur.id;
      st.prober = new ContainerProber(c, nsToMs(cur.startedAt) || Date.now(),
        (p, kind) => this.runProbe(c, cur.id, p, kind),
        (verdict) => this.onProbe(c, cur.id, verdict));
    }
    st.prober?.tick(Date.now());
    v.ready = st.prober?.isReady ?? true;
    v.started = st.prober?.isStarted ?? true;
  }

  private runProbe(c: Container, id: string, p: NonNullable<Container['livenessProbe']>, _kind: ProbeKind): Promise<ProbeResult> {
    return runHandler(p, this.handlerTarget(c, id, p.timeoutSeconds ?? 1));
  }

  private onProbe(c: Container, id: string, v: ProbeVerdict): void {
    if (!v.result.ok) this.event('Warning', 'Unhealthy', `${v.kind} probe failed: ${v.result.message}`);
    if (v.restart) {
      this.event('Normal', 'Killing', `Container ${c.name} failed ${v.kind.toLowerCase()} probe, will be restarted`);
      const probe = v.kind === 'Startup' ? c.startupProbe : c.livenessProbe;
      void this.stopContainer(c, id, probe?.terminationGracePeriodSeconds ?? this.pod.spec.terminationGracePeriodSeconds ?? 30);
    }
    this.ctx.wake(this.pod.uid);
  }

  /** preStop within the grace period, then TERM and, when the period is over, KILL (the runtime's part). */
  private async stopContainer(c: Container | undefined, id: string, graceS: number): Promise<void> {
    const started = Date.now();
    const preStop = c?.lifecycle?.preStop;
    if (preStop && graceS > 0) {
      const stop = new AbortController();
      const timer = setTimeout(() => stop.abort(), graceS * 1000);
      const r = await Promise.race([
        runHandler(preStop, { ...this.handlerTarget(c, id, graceS), signal: stop.signal }),
        new Promise<ProbeResult>((resolve) => stop.signal.addEventListener('abort', () => resolve({ ok: false, message: `did not finish within the grace period of ${graceS}s` }), { once: true })),
      ]);
      clearTimeout(timer);
      if (!r.ok) this.event('Warning', 'FailedPreStopHook', `PreStopHook failed: ${r.message}`);
    }
    const left = Math.max(0, graceS - Math.floor((Date.now() - started) / 1000));
    await this.ctx.cri.stopContainer({ container_id: id, timeout: left }, { timeoutMs: (left + 60) * 1000 });
  }

  // ── Finished ─────────────────────────────────────────────────────────────────────────────────────────────

  /**
   * The pod has ended for good (all containers done, a failed init container, the deadline, an eviction): what
   * still runs is stopped, the sandbox (a VM's memory and CPUs) is given back and the volumes removed; logs stay.
   */
  private async finish(snap: NodeSnapshot, view?: PodView): Promise<PodView> {
    const running = snap.containers.filter((c) => c.labels[LABEL.podUid] === this.pod.uid && c.state === 'CONTAINER_RUNNING');
    for (const c of running) {
      const spec = this.pod.spec.containers.find((x) => x.name === c.labels[LABEL.containerName]) ?? this.pod.spec.initContainers?.find((x) => x.name === c.labels[LABEL.containerName]);
      await this.stopContainer(spec, c.id, this.pod.spec.terminationGracePeriodSeconds ?? 30).catch((err: unknown) => this.log.warn('cannot stop a container', { err: describeError(err) }));
    }
    for (const s of snap.sandboxes.filter((x) => x.labels[LABEL.podUid] === this.pod.uid)) {
      await this.ctx.cri.stopPodSandbox({ pod_sandbox_id: s.id });
    }
    for (const st of this.containers.values()) st.prober?.stop();
    await this.volumes.tearDown();
    this.state = 'Finished';
    this.log.info('pod finished', { reason: this.failed?.reason });
    return view ?? this.finishedView(snap);
  }

  private async finishedView(snap: NodeSnapshot): Promise<PodView> {
    const views = async (cs: Container[]): Promise<ContainerView[]> => Promise.all(cs.map(async (c) => {
      const v = await this.view(snap, c);
      delete v.waiting;
      return v;
    }));
    return { ...this.base(), sandboxReady: false, init: await views(this.pod.spec.initContainers ?? []), containers: await views(this.pod.spec.containers) };
  }

  // ── Terminating ──────────────────────────────────────────────────────────────────────────────────────────

  /**
   * Graceful deletion: preStop hooks and TERM within the grace period (none when the pod was force-deleted),
   * app containers before sidecars; then the sandboxes, the volumes and the API object. A step that fails is
   * tried again on a later sync, with back-off, so a pod never stays Terminating because of one error.
   */
  private async terminate(snap: NodeSnapshot): Promise<void> {
    if (this.terminateBackoff.remaining(Date.now()) > 0) return;
    const meta = this.pod.object.metadata;
    const grace = this.deletedFromApi ? 0 : meta.deletionGracePeriodSeconds ?? this.pod.spec.terminationGracePeriodSeconds ?? 30;
    try {
      const mine = snap.containers.filter((c) => c.labels[LABEL.podUid] === this.pod.uid && c.state === 'CONTAINER_RUNNING');
      const specOf = (name: string | undefined): Container | undefined => this.pod.spec.containers.find((x) => x.name === name) ?? this.pod.spec.initContainers?.find((x) => x.name === name);
      const sidecar = (name: string | undefined): boolean => (this.pod.spec.initContainers ?? []).some((x) => x.name === name);
      for (const group of [mine.filter((c) => !sidecar(c.labels[LABEL.containerName])), mine.filter((c) => sidecar(c.labels[LABEL.containerName]))]) {
        await Promise.all(group.map(async (c) => {
          const name = c.labels[LABEL.containerName];
          this.event('Normal', 'Killing', `Stopping container ${name ?? ''}`);
          await this.stopContainer(specOf(name), c.id, grace);
        }));
      }
      for (const st of this.containers.values()) st.prober?.stop();
      await this.creating;
      const sandboxes = (await this.ctx.cri.listPodSandbox({ filter: { label_selector: { [LABEL.podUid]: this.pod.uid } } })).items;
      for (const s of sandboxes) {
        await this.ctx.cri.stopPodSandbox({ pod_sandbox_id: s.id });
        await this.ctx.cri.removePodSandbox({ pod_sandbox_id: s.id });
      }
      await this.volumes.tearDown();
      // The pod's container logs go with it, as kubelet removes /var/log/pods/<pod>.
      await removePodLogs(podLogDirectory(this.ctx.logsRoot, this.pod));
    } catch (err) {
      const delay = this.terminateBackoff.crashed(Date.now(), 0);
      this.event('Warning', 'FailedKillPod', `error killing pod: ${describeError(err)}`);
      this.log.warn('cannot stop the pod yet; trying again', { err: describeError(err), retryInMs: delay });
      return;
    }
    if (!this.deletedFromApi) {
      const path = `/api/v1/namespaces/${this.pod.namespace}/pods/${this.pod.name}`;
      try {
        await this.ctx.client.delete(path, { gracePeriodSeconds: 0, preconditions: { uid: this.pod.uid } });
      } catch (err) {
        // Gone already, or replaced by a pod of the same name: nothing of this one is left to confirm. A conflict
        // can also be writes racing this one: then the pod is still there, with its uid, and is confirmed again.
        if (!isSandpodError(err, 'NotFound') && !(isSandpodError(err, 'Conflict') && !(await this.stillThere(path)))) {
          const delay = this.terminateBackoff.crashed(Date.now(), 0);
          this.log.warn('could not confirm the deletion; trying again', { err: describeError(err), retryInMs: delay });
          return;
        }
      }
    }
    this.state = 'Gone';
    this.log.info('pod terminated and removed', { forced: this.deletedFromApi });
  }

  /** Whether the API still has this pod (this uid) at `path`; when it cannot say, it is taken to be there. */
  private async stillThere(path: string): Promise<boolean> {
    return this.ctx.client.get(path).then((p) => p.metadata.uid === this.pod.uid, (err: unknown) => !isSandpodError(err, 'NotFound'));
  }

  // ── Status ───────────────────────────────────────────────────────────────────────────────────────────────

  private async report(view: PodView): Promise<void> {
    const previous = isRecord(this.pod.object['status']) ? this.pod.object['status'] : {};
    const status = podStatus(view, previous);
    const text = JSON.stringify(status);
    if (text === this.lastStatus) return;
    const path = `/api/v1/namespaces/${this.pod.namespace}/pods/${this.pod.name}/status`;
    await this.ctx.client.call<KubeObject>('PATCH', path, { contentType: 'application/merge-patch+json', body: { status } });
    this.lastStatus = text;
  }

  /** The log file of a container's current (or previous) instance, for the streaming server. */
  locate(snap: NodeSnapshot, name: string, previous: boolean): { containerId: string; logPath: string; running: boolean } | undefined {
    const known = [...this.pod.spec.containers, ...(this.pod.spec.initContainers ?? [])].some((c) => c.name === name);
    if (!known) return undefined;
    const all = snap.containers.filter((c) => c.labels[LABEL.podUid] === this.pod.uid && c.labels[LABEL.containerName] === name)
      .sort((a, b) => b.created_at - a.created_at);
    const c = all[previous ? 1 : 0];
    if (!c) return undefined;
    return {
      containerId: c.id,
      logPath: join(podLogDirectory(this.ctx.logsRoot, this.pod), name, `${c.metadata?.attempt ?? 0}.log`),
      running: c.state === 'CONTAINER_RUNNING',
    };
  }
}
