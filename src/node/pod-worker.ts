/**
 * One pod on this node, driven toward its spec through CRI, as kubelet's pod worker does: a pod sandbox
 * (a VM for the sandpod-vm handler), init containers in order, then the containers, restarted per
 * restartPolicy with back-off, probed, and stopped with their grace period. Every sync starts from what the
 * runtime reports (the node's snapshot), so an agent that restarts adopts what is already running.
 */
import { mkdir } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { ContainerStatus, CriClient } from '../cri/index.js';
import { describeError } from '../errors.js';
import { isRecord, kubeTime, recordEvent, type EventType, type KubeClient, type KubeObject } from '../kube/index.js';
import type { Logger } from '../log.js';
import { Backoff } from './backoff.js';
import { containerConfig, LABEL, podLogDirectory, RESTART_COUNT_ANNOTATION, sandboxConfig } from './cri-config.js';
import type { ContainerSpec, PodInfo, Probe } from './pod-spec.js';
import type { NodeSnapshot } from './snapshot.js';
import { podPhase, podStatus, type ContainerView, type Instance, type PodView } from './status.js';

export interface WorkerContext {
  cri: CriClient;
  client: KubeClient;
  log: Logger;
  nodeName: string;
  hostIP: string;
  logsRoot: string;
  /** The CRI runtime handler for a RuntimeClass name ('' for the default runtime). */
  runtimeHandler(runtimeClassName: string | undefined): Promise<string>;
}

interface ContainerState {
  backoff: Backoff;
  /** The instance whose crash started the current back-off (so one crash is counted once). */
  crashSeen?: string;
  waiting?: { reason: string; message?: string };
  liveness: ProbeState;
  readiness: ProbeState;
}

interface ProbeState { lastRun: number; failures: number; successes: number; ok: boolean }

const newProbeState = (ok: boolean): ProbeState => ({ lastRun: 0, failures: 0, successes: 0, ok });
const nsToMs = (ns: number): number => Math.floor(ns / 1e6);

/** What the runtime's ContainerStatus says, as a status Instance. */
function instanceOf(s: ContainerStatus): Instance {
  const state = s.state === 'CONTAINER_RUNNING' ? 'running' : s.state === 'CONTAINER_EXITED' ? 'exited' : s.state === 'CONTAINER_CREATED' ? 'created' : 'unknown';
  return {
    id: s.id, attempt: s.metadata?.attempt ?? 0, state, startedAt: s.started_at, finishedAt: s.finished_at,
    exitCode: s.exit_code, reason: s.reason, message: s.message, imageRef: s.image_ref,
  };
}

const pullPolicy = (c: ContainerSpec): 'Always' | 'IfNotPresent' | 'Never' => {
  if (c.imagePullPolicy) return c.imagePullPolicy;
  const last = c.image.slice(c.image.lastIndexOf('/') + 1);
  return !last.includes(':') || last.endsWith(':latest') ? 'Always' : 'IfNotPresent';
};

export class PodWorker {
  private pod: PodInfo;
  private readonly states = new Map<string, ContainerState>();
  private sandboxId: string | undefined;
  private podIP: string | undefined;
  private startTime: string | undefined;
  private lastStatus = '';
  private failed: { reason: string; message: string } | undefined;
  private sandboxStopped = false;
  private sandboxFailures = new Backoff(1000, 60_000);
  private terminating: Promise<void> | undefined;
  /** ContainerStatus of instances that have exited never changes: asked once. */
  private readonly exitedCache = new Map<string, ContainerStatus>();
  private readonly log: Logger;
  done = false;

  constructor(pod: PodInfo, private readonly ctx: WorkerContext) {
    this.pod = pod;
    this.log = ctx.log.child({ pod: `${pod.namespace}/${pod.name}` });
  }

  get info(): PodInfo { return this.pod; }
  update(pod: PodInfo): void { this.pod = pod; }

  private state(name: string): ContainerState {
    let s = this.states.get(name);
    if (!s) {
      s = { backoff: new Backoff(), liveness: newProbeState(true), readiness: newProbeState(false) };
      this.states.set(name, s);
    }
    return s;
  }

  private event(type: EventType, reason: string, message: string): void {
    void recordEvent(this.ctx.client, { ...this.pod.object, apiVersion: 'v1', kind: 'Pod' }, type, reason, message,
      { component: 'kubelet', host: this.ctx.nodeName }, (err) => this.log.warn('could not record event', { reason, err: describeError(err) }));
  }

  /** One step toward the spec, from the node's current snapshot. Never throws: failures become status and events. */
  async sync(snap: NodeSnapshot): Promise<void> {
    if (this.done) return;
    try {
      if (this.pod.object.metadata.deletionTimestamp) {
        this.terminating ??= this.terminate(snap);
        await this.terminating;
        return;
      }
      const view = await this.reconcile(snap);
      await this.report(view);
    } catch (err) {
      this.log.warn('pod sync failed', { err: describeError(err) });
    }
  }

  private sandboxOf(snap: NodeSnapshot): { id: string; ready: boolean; attempt: number } | undefined {
    const mine = snap.sandboxes.filter((s) => s.labels[LABEL.podUid] === this.pod.uid)
      .sort((a, b) => (b.metadata?.attempt ?? 0) - (a.metadata?.attempt ?? 0) || b.created_at - a.created_at);
    const s = mine[0];
    return s ? { id: s.id, ready: s.state === 'SANDBOX_READY', attempt: s.metadata?.attempt ?? 0 } : undefined;
  }

  private async ensureSandbox(snap: NodeSnapshot): Promise<string | undefined> {
    const found = this.sandboxOf(snap);
    if (found?.ready) {
      if (found.id !== this.sandboxId) {
        this.sandboxId = found.id;
        const { status } = await this.ctx.cri.podSandboxStatus({ pod_sandbox_id: found.id });
        this.podIP = status?.network?.ip || undefined;
        this.startTime ??= kubeTime(new Date(nsToMs(status?.created_at ?? Date.now() * 1e6)));
      }
      return found.id;
    }
    if (this.sandboxStopped) return undefined;
    if (this.sandboxFailures.remaining(Date.now()) > 0) return undefined;
    if (found) {
      // The sandbox died (a VM pod's QEMU was killed, say): its containers are gone with it; start over.
      this.event('Normal', 'SandboxChanged', 'Pod sandbox changed, it will be killed and re-created.');
      await this.ctx.cri.stopPodSandbox({ pod_sandbox_id: found.id }).catch(() => undefined);
    }
    const handler = await this.ctx.runtimeHandler(this.pod.spec.runtimeClassName);
    const config = sandboxConfig(this.pod, this.ctx.logsRoot, found ? found.attempt + 1 : 0);
    await mkdir(podLogDirectory(this.ctx.logsRoot, this.pod), { recursive: true });
    try {
      const { pod_sandbox_id: id } = await this.ctx.cri.runPodSandbox({ config, runtime_handler: handler });
      const { status } = await this.ctx.cri.podSandboxStatus({ pod_sandbox_id: id });
      this.sandboxId = id;
      this.podIP = status?.network?.ip || undefined;
      this.startTime ??= kubeTime();
      this.log.info('pod sandbox ready', { sandbox: id, handler: handler || 'default', podIP: this.podIP });
      return id;
    } catch (err) {
      const delay = this.sandboxFailures.crashed(Date.now(), 0);
      this.event('Warning', 'FailedCreatePodSandBox', `Failed to create pod sandbox: ${describeError(err)}`);
      this.log.warn('cannot create the pod sandbox', { err: describeError(err), retryInMs: delay });
      return undefined;
    }
  }

  /**
   * The instances of container `name`, newest first, in any sandbox of the pod: after a sandbox died (its VM
   * was killed) the last instance is the one that died with it, and the next one continues its count.
   */
  private async instances(snap: NodeSnapshot, name: string): Promise<Instance[]> {
    const mine = snap.containers.filter((c) => c.labels[LABEL.podUid] === this.pod.uid && c.labels[LABEL.containerName] === name)
      .sort((a, b) => b.created_at - a.created_at);
    const out: Instance[] = [];
    for (const c of mine.slice(0, 2)) {
      let s = this.exitedCache.get(c.id);
      if (!s) {
        s = (await this.ctx.cri.containerStatus({ container_id: c.id }).catch(() => ({ status: null }))).status ?? undefined;
        if (s?.state === 'CONTAINER_EXITED') this.exitedCache.set(c.id, s);
      }
      if (s) out.push(instanceOf(s));
    }
    return out;
  }

  private async view(snap: NodeSnapshot, c: ContainerSpec): Promise<ContainerView> {
    const [current, previous] = await this.instances(snap, c.name);
    const st = this.state(c.name);
    const restartCount = current ? Number(snap.containers.find((x) => x.id === current.id)?.annotations[RESTART_COUNT_ANNOTATION] ?? current.attempt) : 0;
    const running = current?.state === 'running';
    const ready = running && (c.readinessProbe ? st.readiness.ok : true);
    return {
      spec: c, restartCount, ready, ...(current ? { current } : {}), ...(previous ? { previous } : {}),
      ...(st.waiting ? { waiting: st.waiting } : {}),
    };
  }

  private shouldRestart(i: Instance): boolean {
    const policy = this.pod.spec.restartPolicy;
    return policy === 'Always' || (policy === 'OnFailure' && i.exitCode !== 0);
  }

  private async reconcile(snap: NodeSnapshot): Promise<PodView> {
    const base = { spec: this.pod.spec, hostIP: this.ctx.hostIP };
    const sandbox = this.sandboxStopped ? this.sandboxOf(snap)?.id : await this.ensureSandbox(snap);
    const init: ContainerView[] = [];
    const containers: ContainerView[] = [];
    if (!sandbox) {
      const waiting = (c: ContainerSpec): ContainerView => ({ spec: c, restartCount: 0, ready: false, waiting: { reason: this.failed ? 'Error' : 'ContainerCreating' } });
      return { ...base, init: (this.pod.spec.initContainers ?? []).map(waiting), containers: this.pod.spec.containers.map(waiting), ...this.extra() };
    }
    let initDone = true;
    for (const c of this.pod.spec.initContainers ?? []) {
      const v = await this.view(snap, c);
      init.push(v);
      if (!initDone) continue;
      if (v.current?.state === 'exited' && v.current.exitCode === 0) continue;
      initDone = false;
      await this.drive(v, { initContainer: true });
    }
    for (const c of this.pod.spec.containers) {
      const v = await this.view(snap, c);
      containers.push(v);
      if (initDone && !this.failed) await this.drive(v, { initContainer: false });
    }
    const view: PodView = { ...base, init, containers, ...this.extra() };
    // A pod that has finished for good gives its sandbox (a VM's memory and CPUs) back; logs stay readable.
    const phase = podPhase(view);
    if ((phase === 'Succeeded' || phase === 'Failed') && !this.sandboxStopped) {
      this.sandboxStopped = true;
      await this.ctx.cri.stopPodSandbox({ pod_sandbox_id: sandbox }).catch((err: unknown) => this.log.warn('cannot stop the finished pod sandbox', { err: describeError(err) }));
    }
    return view;
  }

  private extra(): Pick<PodView, 'podIP' | 'startTime' | 'failed'> {
    return { ...(this.podIP ? { podIP: this.podIP } : {}), ...(this.startTime ? { startTime: this.startTime } : {}), ...(this.failed ? { failed: this.failed } : {}) };
  }

  /** Starts, restarts (after back-off) or probes one container; updates the view's waiting reason and readiness. */
  private async drive(v: ContainerView, o: { initContainer: boolean }): Promise<void> {
    const st = this.state(v.spec.name);
    const cur = v.current;
    if (cur?.state === 'running') {
      st.waiting = undefined;
      delete v.waiting;
      await this.probe(v, st);
      v.ready = v.spec.readinessProbe ? st.readiness.ok : true;
      return;
    }
    if (cur?.state === 'created') return;
    if (cur?.state === 'exited') {
      if (!this.shouldRestart(cur)) {
        st.waiting = undefined;
        delete v.waiting;
        if (o.initContainer) this.failed = { reason: 'Failed', message: `init container ${v.spec.name} exited with ${cur.exitCode}` };
        return;
      }
      if (st.crashSeen !== cur.id) {
        st.crashSeen = cur.id;
        const delay = st.backoff.crashed(Date.now(), nsToMs(cur.finishedAt) - nsToMs(cur.startedAt));
        if (cur.exitCode !== 0) this.event('Warning', 'BackOff', `Back-off restarting failed container ${v.spec.name} in pod ${this.pod.name}`);
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

  private async pull(c: ContainerSpec, st: ContainerState): Promise<boolean> {
    const policy = pullPolicy(c);
    const present = (await this.ctx.cri.imageStatus({ image: { image: c.image } }).catch(() => ({ image: null }))).image !== null;
    if (present && policy !== 'Always') {
      if (policy === 'IfNotPresent') this.event('Normal', 'Pulled', `Container image "${c.image}" already present on machine`);
      return true;
    }
    if (policy === 'Never') {
      st.waiting = { reason: 'ErrImageNeverPull', message: `Container image "${c.image}" is not present with pull policy of Never` };
      this.event('Warning', 'ErrImageNeverPull', st.waiting.message ?? '');
      return false;
    }
    this.event('Normal', 'Pulling', `Pulling image "${c.image}"`);
    const t0 = Date.now();
    try {
      await this.ctx.cri.pullImage({ image: { image: c.image } });
      this.event('Normal', 'Pulled', `Successfully pulled image "${c.image}" in ${((Date.now() - t0) / 1000).toFixed(3)}s`);
      return true;
    } catch (err) {
      st.waiting = { reason: 'ErrImagePull', message: describeError(err) };
      this.event('Warning', 'Failed', `Failed to pull image "${c.image}": ${describeError(err)}`);
      return false;
    }
  }

  private async start(v: ContainerView, st: ContainerState, attempt: number, restartCount: number): Promise<void> {
    const c = v.spec;
    if (!this.sandboxId) return;
    if (!(await this.pull(c, st))) {
      v.waiting = st.waiting;
      return;
    }
    try {
      await mkdir(join(podLogDirectory(this.ctx.logsRoot, this.pod), c.name), { recursive: true });
      const { container_id: id } = await this.ctx.cri.createContainer({
        pod_sandbox_id: this.sandboxId,
        config: containerConfig(this.pod, c, attempt, restartCount),
        sandbox_config: sandboxConfig(this.pod, this.ctx.logsRoot, 0),
      });
      this.event('Normal', 'Created', `Created container ${c.name}`);
      await this.ctx.cri.startContainer({ container_id: id });
      this.event('Normal', 'Started', `Started container ${c.name}`);
      st.waiting = undefined;
      st.liveness = newProbeState(true);
      st.readiness = newProbeState(false);
      delete v.waiting;
      v.restartCount = restartCount;
      const started = (await this.ctx.cri.containerStatus({ container_id: id }).catch(() => ({ status: null }))).status;
      if (v.current) v.previous = v.current;
      v.current = started ? instanceOf(started) : { id, attempt, state: 'running', startedAt: Date.now() * 1e6, finishedAt: 0, exitCode: 0, reason: '', message: '', imageRef: '' };
      v.ready = !c.readinessProbe;
      this.log.info('container started', { container: c.name, id, attempt });
    } catch (err) {
      st.waiting = { reason: 'CreateContainerError', message: describeError(err) };
      v.waiting = st.waiting;
      this.event('Warning', 'Failed', `Error: ${describeError(err)}`);
    }
  }

  private async runProbe(p: Probe, containerId: string): Promise<boolean> {
    if (p.exec) {
      const r = await this.ctx.cri.execSync({ container_id: containerId, cmd: p.exec.command, timeout: p.timeoutSeconds }).catch(() => undefined);
      return r?.exit_code === 0;
    }
    if (p.tcpSocket) {
      const port = typeof p.tcpSocket.port === 'number' ? p.tcpSocket.port : Number(p.tcpSocket.port);
      const host = p.tcpSocket.host ?? this.podIP;
      if (!host || !Number.isInteger(port)) return false;
      return new Promise((resolve) => {
        const s = connect({ host, port, timeout: p.timeoutSeconds * 1000 });
        s.once('connect', () => { s.destroy(); resolve(true); });
        s.once('timeout', () => { s.destroy(); resolve(false); });
        s.once('error', () => resolve(false));
      });
    }
    return true;
  }

  private async probe(v: ContainerView, st: ContainerState): Promise<void> {
    const cur = v.current;
    if (!cur) return;
    const now = Date.now();
    const runningFor = now - nsToMs(cur.startedAt);
    for (const [kind, p, ps] of [['Liveness', v.spec.livenessProbe, st.liveness], ['Readiness', v.spec.readinessProbe, st.readiness]] as const) {
      if (!p || runningFor < p.initialDelaySeconds * 1000 || now - ps.lastRun < p.periodSeconds * 1000) continue;
      ps.lastRun = now;
      if (await this.runProbe(p, cur.id)) {
        ps.failures = 0;
        ps.successes++;
        if (ps.successes >= p.successThreshold) ps.ok = true;
        continue;
      }
      ps.successes = 0;
      ps.failures++;
      this.event('Warning', 'Unhealthy', `${kind} probe failed`);
      if (ps.failures < p.failureThreshold) continue;
      ps.ok = false;
      if (kind === 'Liveness') {
        this.event('Normal', 'Killing', `Container ${v.spec.name} failed liveness probe, will be restarted`);
        await this.stopContainer(v.spec, cur.id);
        ps.failures = 0;
      }
    }
  }

  private async stopContainer(c: ContainerSpec, id: string, graceS = this.pod.spec.terminationGracePeriodSeconds): Promise<void> {
    const preStop = c.lifecycle?.preStop?.exec?.command;
    if (preStop) {
      await this.ctx.cri.execSync({ container_id: id, cmd: preStop, timeout: graceS }).catch((err: unknown) => {
        this.event('Warning', 'FailedPreStopHook', `PreStopHook failed: ${describeError(err)}`);
      });
    }
    await this.ctx.cri.stopContainer({ container_id: id, timeout: graceS }).catch((err: unknown) => this.log.warn('stop failed', { container: c.name, err: describeError(err) }));
  }

  /** Graceful deletion: preStop hooks and TERM within the grace period, then the sandbox, then the API object. */
  private async terminate(snap: NodeSnapshot): Promise<void> {
    const grace = this.pod.object.metadata.deletionGracePeriodSeconds ?? this.pod.spec.terminationGracePeriodSeconds;
    const sandboxes = snap.sandboxes.filter((s) => s.labels[LABEL.podUid] === this.pod.uid);
    const running = snap.containers.filter((c) => c.labels[LABEL.podUid] === this.pod.uid && c.state === 'CONTAINER_RUNNING');
    await Promise.all(running.map(async (c) => {
      const name = c.labels[LABEL.containerName] ?? '';
      const spec = [...this.pod.spec.containers, ...(this.pod.spec.initContainers ?? [])].find((x) => x.name === name);
      this.event('Normal', 'Killing', `Stopping container ${name}`);
      if (spec) await this.stopContainer(spec, c.id, grace);
    }));
    for (const s of sandboxes) {
      await this.ctx.cri.stopPodSandbox({ pod_sandbox_id: s.id });
      await this.ctx.cri.removePodSandbox({ pod_sandbox_id: s.id });
    }
    const path = `/api/v1/namespaces/${this.pod.namespace}/pods/${this.pod.name}`;
    await this.ctx.client.delete(path, { gracePeriodSeconds: 0, preconditions: { uid: this.pod.uid } }).catch((err: unknown) => {
      this.log.warn('could not confirm the deletion', { err: describeError(err) });
    });
    this.done = true;
    this.log.info('pod terminated and removed', { sandboxes: sandboxes.length });
  }

  /** Removes what is left of a pod the API no longer has (deleted while this agent was down). */
  async remove(snap: NodeSnapshot): Promise<void> {
    for (const s of snap.sandboxes.filter((x) => x.labels[LABEL.podUid] === this.pod.uid)) {
      await this.ctx.cri.stopPodSandbox({ pod_sandbox_id: s.id }).catch(() => undefined);
      await this.ctx.cri.removePodSandbox({ pod_sandbox_id: s.id }).catch(() => undefined);
    }
    this.done = true;
  }

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
  async locate(snap: NodeSnapshot, name: string, previous: boolean): Promise<{ containerId: string; logPath: string; running: boolean } | undefined> {
    const spec = [...this.pod.spec.containers, ...(this.pod.spec.initContainers ?? [])].find((c) => c.name === name);
    if (!spec) return undefined;
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
