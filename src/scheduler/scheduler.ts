/**
 * The scheduler: watches pods and nodes through the API like kube-scheduler, binds each pending pod to a Ready
 * node that fits, and records Scheduled / FailedScheduling events. Unschedulable pods are retried whenever a
 * node or a pod changes, and on a slow timer.
 */
import { describeError } from '../errors.js';
import { createLogger, type Logger } from '../log.js';
import { addResources, EventRecorder, isRecord, Informer, kubeEventSink, type EventType, type InformerEvent, type KubeClient, type KubeObject } from '../kube/index.js';
import { place, podRequests, usageByNode } from './fit.js';

export const schedulerName = 'default-scheduler';

export interface SchedulerOptions {
  logger?: Logger;
  /** Retry interval for pods that did not fit, even without changes. */
  retryMs?: number;
}

const spec = (p: KubeObject): Record<string, unknown> => (isRecord(p['spec']) ? p['spec'] : {});

/** Unbound, not terminating, ours, and not held back by scheduling gates. */
function pending(p: KubeObject): boolean {
  const s = spec(p);
  const gated = Array.isArray(s['schedulingGates']) && s['schedulingGates'].length > 0;
  return !s['nodeName'] && !p.metadata.deletionTimestamp && !gated && (s['schedulerName'] ?? schedulerName) === schedulerName;
}

export class Scheduler {
  private readonly pods: Informer;
  private readonly nodes: Informer;
  private readonly log: Logger;
  private scheduled = false;
  private running = false;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** The last FailedScheduling message per pod uid, so an unchanged verdict is not reported twice. */
  private readonly lastFailure = new Map<string, string>();
  private readonly events: EventRecorder;

  constructor(private readonly client: KubeClient, private readonly opts: SchedulerOptions = {}) {
    this.log = opts.logger ?? createLogger('scheduler');
    this.events = new EventRecorder(kubeEventSink(client), { component: schedulerName });
    const changed = (e: InformerEvent): void => {
      if (e.type === 'DELETED') this.lastFailure.delete(e.object.metadata.uid ?? '');
      this.kick();
    };
    this.pods = new Informer(client, '/api/v1/pods', changed);
    this.nodes = new Informer(client, '/api/v1/nodes', changed);
  }

  async start(): Promise<void> {
    await this.nodes.start();
    await this.pods.start();
    this.timer = setInterval(() => this.kick(), this.opts.retryMs ?? 15000);
    this.timer.unref();
    this.kick();
    this.log.info('started');
  }

  stop(): void {
    this.stopped = true;
    this.pods.stop();
    this.nodes.stop();
    if (this.timer) clearInterval(this.timer);
  }

  /** Schedules a pass soon; passes never overlap. */
  private kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.pass();
    });
  }

  private async pass(): Promise<void> {
    this.running = true;
    try {
      const pods = [...this.pods.cache.values()];
      const nodes = [...this.nodes.cache.values()];
      const usage = usageByNode(pods);
      const queue = pods.filter(pending).sort((a, b) => String(a.metadata.creationTimestamp).localeCompare(String(b.metadata.creationTimestamp)));
      for (const pod of queue) {
        if (this.stopped) return;
        const placement = place(pod, nodes, usage);
        if (placement.node) {
          await this.bind(pod, placement.node);
          usage.set(placement.node, addResources(usage.get(placement.node) ?? {}, podRequests(pod)));
        } else {
          await this.reportFailure(pod, placement.message ?? 'no node fits');
        }
      }
    } catch (err) {
      this.log.warn('scheduling pass failed', { err: describeError(err) });
    } finally {
      this.running = false;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    }
  }

  private async bind(pod: KubeObject, node: string): Promise<void> {
    const ns = pod.metadata.namespace ?? 'default';
    const name = pod.metadata.name ?? '';
    try {
      await this.client.create(`/api/v1/namespaces/${ns}/pods/${name}/binding`, {
        apiVersion: 'v1', kind: 'Binding', metadata: { name, namespace: ns }, target: { apiVersion: 'v1', kind: 'Node', name: node },
      });
    } catch (err) {
      this.log.info('binding failed; will retry', { pod: `${ns}/${name}`, node, err: describeError(err) });
      return;
    }
    this.lastFailure.delete(pod.metadata.uid ?? '');
    this.log.info('bound', { pod: `${ns}/${name}`, node });
    this.event(pod, 'Normal', 'Scheduled', `Successfully assigned ${ns}/${name} to ${node}`);
  }

  private async reportFailure(pod: KubeObject, message: string): Promise<void> {
    const uid = pod.metadata.uid ?? '';
    if (this.lastFailure.get(uid) === message) return;
    this.lastFailure.set(uid, message);
    this.log.info('unschedulable', { pod: `${pod.metadata.namespace ?? ''}/${pod.metadata.name ?? ''}`, message });
    const ns = pod.metadata.namespace ?? 'default';
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    try {
      await this.client.call('PATCH', `/api/v1/namespaces/${ns}/pods/${pod.metadata.name ?? ''}/status`, {
        contentType: 'application/strategic-merge-patch+json',
        body: { status: { conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message, lastProbeTime: null, lastTransitionTime: now }] } },
      });
    } catch (err) {
      this.log.info('could not record Unschedulable condition', { err: describeError(err) });
    }
    this.event(pod, 'Warning', 'FailedScheduling', message);
  }

  /** Queues an event; scheduling never waits for one to be written (the recorder retries while the API is away). */
  private event(pod: KubeObject, type: EventType, reason: string, message: string): void {
    void this.events.record({ ...pod, apiVersion: 'v1', kind: 'Pod' }, type, reason, message,
      (err) => this.log.warn('could not record event', { reason, err: describeError(err) }));
  }

}
