/**
 * Pod status as kubelet reports it, computed from what the node agent observed in the container runtime:
 * phase, conditions, container statuses (state, lastState, restartCount, ready, started, image, imageID,
 * containerID), pod IP, host IP, start time. Pure functions, so the rules can be tested without a runtime.
 */
import { isSidecar, kubeTime, type Container, type PodSpec } from '../kube/index.js';

/** One container instance as the runtime reports it (times in nanoseconds since the epoch, 0 when unset). */
export interface Instance {
  id: string;
  attempt: number;
  state: 'created' | 'running' | 'exited' | 'unknown';
  startedAt: number;
  finishedAt: number;
  exitCode: number;
  reason: string;
  message: string;
  imageRef: string;
}

/** What the agent knows of one container of the pod. */
export interface ContainerView {
  spec: Container;
  current?: Instance;
  previous?: Instance;
  restartCount: number;
  /** Why it is not running now, when it is not (ContainerCreating, ErrImagePull, CrashLoopBackOff, …). */
  waiting?: { reason: string; message?: string };
  /** Readiness as probed; it counts only while the current instance runs. */
  ready: boolean;
  /** The startup probe passed (or there is none); counts only while the current instance runs. */
  started?: boolean;
}

export interface PodView {
  spec: PodSpec;
  init: ContainerView[];
  containers: ContainerView[];
  podIP?: string;
  hostIP: string;
  startTime?: string;
  /** The pod sandbox is up with its network (PodReadyToStartContainers). */
  sandboxReady?: boolean;
  /** Set when the pod can never run (e.g. an init container failed with restartPolicy Never, or it was evicted). */
  failed?: { reason: string; message: string };
}

const time = (ns: number): string | null => (ns > 0 ? kubeTime(new Date(Math.floor(ns / 1e6))) : null);

function terminated(i: Instance): Record<string, unknown> {
  return {
    terminated: {
      exitCode: i.exitCode,
      reason: i.reason || (i.exitCode === 0 ? 'Completed' : 'Error'),
      ...(i.message ? { message: i.message } : {}),
      startedAt: time(i.startedAt), finishedAt: time(i.finishedAt), containerID: `containerd://${i.id}`,
    },
  };
}

function stateOf(v: ContainerView): Record<string, unknown> {
  if (v.waiting) return { waiting: { reason: v.waiting.reason, ...(v.waiting.message ? { message: v.waiting.message } : {}) } };
  const c = v.current;
  if (!c || c.state === 'created' || c.state === 'unknown') return { waiting: { reason: 'ContainerCreating' } };
  if (c.state === 'running') return { running: { startedAt: time(c.startedAt) } };
  return terminated(c);
}

const running = (v: ContainerView): boolean => !v.waiting && v.current?.state === 'running';

export function containerStatus(v: ContainerView): Record<string, unknown> {
  const state = stateOf(v);
  const isRunning = 'running' in state;
  // The instance before a restart, or the one that just ended while the next waits to start.
  const last = v.waiting && v.current?.state === 'exited' ? v.current : v.previous;
  return {
    name: v.spec.name,
    state,
    lastState: last ? terminated(last) : {},
    ready: isRunning && v.ready,
    restartCount: v.restartCount,
    image: v.spec.image ?? '',
    imageID: v.current?.imageRef ?? '',
    ...(v.current ? { containerID: `containerd://${v.current.id}` } : {}),
    started: isRunning && (v.started ?? true),
  };
}

const ended = (v: ContainerView): Instance | undefined => (!v.waiting && v.current?.state === 'exited' ? v.current : undefined);

/** The app containers decide the phase; a sidecar (an init container that keeps running) never does. */
export function podPhase(p: PodView): 'Pending' | 'Running' | 'Succeeded' | 'Failed' {
  if (p.failed) return 'Failed';
  if (!initialized(p)) return 'Pending';
  const runningNow = p.containers.filter(running).length;
  const done = p.containers.map(ended);
  const everRan = p.containers.some((v) => v.current?.state === 'exited' || v.current?.state === 'running' || v.previous);
  if (done.every((d) => d !== undefined)) {
    const failed = done.some((d) => d?.exitCode !== 0);
    if (p.spec.restartPolicy === 'Never' || (p.spec.restartPolicy === 'OnFailure' && !failed)) return failed ? 'Failed' : 'Succeeded';
  }
  if (runningNow > 0 || everRan) return 'Running';
  return 'Pending';
}

/** Every init container has completed, and every sidecar among them runs and has started. */
export const initialized = (p: PodView): boolean => p.init.every((v) => (isSidecar(v.spec)
  ? running(v) && (v.started ?? true)
  : ended(v)?.exitCode === 0 || (v.previous?.exitCode === 0 && v.current === undefined)));

export function podStatus(p: PodView, previous: Record<string, unknown>): Record<string, unknown> {
  const now = kubeTime();
  const oldConditions = Array.isArray(previous['conditions']) ? (previous['conditions'] as Record<string, unknown>[]) : [];
  const containersReady = p.containers.every((v) => running(v) && v.ready);
  const condition = (type: string, ok: boolean, reason?: string): Record<string, unknown> => {
    const old = oldConditions.find((c) => c['type'] === type);
    const status = ok ? 'True' : 'False';
    return {
      type, status, lastProbeTime: null,
      lastTransitionTime: old && old['status'] === status ? old['lastTransitionTime'] : now,
      ...(!ok && reason ? { reason } : {}),
    };
  };
  // Readiness gates: conditions other components set on the pod; Ready waits for all of them.
  const gates = (p.spec.readinessGates ?? []).map((g) => g.conditionType);
  const gatesOpen = gates.every((t) => oldConditions.find((c) => c['type'] === t)?.['status'] === 'True');
  const foreign = oldConditions.filter((c) => gates.includes(String(c['type'])));
  const scheduled = oldConditions.find((c) => c['type'] === 'PodScheduled');
  const phase = podPhase(p);
  return {
    phase,
    conditions: [
      condition('PodReadyToStartContainers', p.sandboxReady ?? false),
      condition('Initialized', initialized(p), 'ContainersNotInitialized'),
      condition('Ready', containersReady && gatesOpen, containersReady ? 'ReadinessGatesNotReady' : 'ContainersNotReady'),
      condition('ContainersReady', containersReady, 'ContainersNotReady'),
      scheduled ?? condition('PodScheduled', true),
      ...foreign,
    ],
    ...(p.failed ? { reason: p.failed.reason, message: p.failed.message } : {}),
    hostIP: p.hostIP,
    hostIPs: [{ ip: p.hostIP }],
    ...(p.podIP ? { podIP: p.podIP, podIPs: [{ ip: p.podIP }] } : {}),
    ...(p.startTime ? { startTime: p.startTime } : {}),
    ...(p.init.length > 0 ? { initContainerStatuses: p.init.map(containerStatus) } : {}),
    containerStatuses: p.containers.map(containerStatus),
    ...(previous['qosClass'] ? { qosClass: previous['qosClass'] } : {}),
  };
}
