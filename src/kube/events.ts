/**
 * Recording a core/v1 Event about an object, as the scheduler and the node agent do (what `kubectl describe`
 * and `kubectl get events` show). A failure to record is logged, never thrown: events are advisory.
 */
import { randomBytes } from 'node:crypto';
import type { KubeClient } from './client.js';
import type { KubeObject } from './object.js';

export type EventType = 'Normal' | 'Warning';

/** RFC 3339 with seconds, as Kubernetes writes times. */
export const kubeTime = (d = new Date()): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

export interface EventSource { component: string; host?: string }

export async function recordEvent(
  client: KubeClient, obj: KubeObject, type: EventType, reason: string, message: string, source: EventSource,
  onError: (err: unknown) => void = () => undefined,
): Promise<void> {
  const ns = obj.metadata.namespace ?? 'default';
  const now = kubeTime();
  try {
    await client.create(`/api/v1/namespaces/${ns}/events`, {
      apiVersion: 'v1', kind: 'Event',
      metadata: { name: `${obj.metadata.name ?? ''}.${randomBytes(8).toString('hex')}`, namespace: ns },
      involvedObject: { apiVersion: obj.apiVersion, kind: obj.kind, namespace: ns, name: obj.metadata.name, uid: obj.metadata.uid, resourceVersion: obj.metadata.resourceVersion },
      reason, message, type, count: 1, firstTimestamp: now, lastTimestamp: now,
      source, reportingComponent: source.component, reportingInstance: source.host ?? source.component,
    });
  } catch (err) {
    onError(err);
  }
}
