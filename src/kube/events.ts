/**
 * Recording core/v1 Events about objects, as the scheduler and the node agent do (what `kubectl describe` and
 * `kubectl get events` show), the way client-go's EventCorrelator and event sink do it (tools/record/events_cache.go,
 * event.go), so a crash loop leaves a handful of Events with counts instead of thousands:
 *
 * - a repeat (same source, object, type, reason and message) PATCHes the Event it already wrote: `count`, `lastTimestamp`
 *   and `series` (count and lastObservedTime, as events.k8s.io keeps them) go up;
 * - more than 10 different messages for the same source, object, type and reason within 10 minutes are combined into one
 *   Event, "(combined from similar events): <latest message>";
 * - each source and object gets a token bucket: 25 Events at once, then one every 5 minutes (the rest are counted and
 *   show in the next Event written);
 * - what was written is kept in bounded LRU caches (4096 entries); at most 1000 Events wait to be written, and one is
 *   tried 12 times, 10 s apart, while the API server cannot be reached.
 *
 * A failure to record is reported to `onError`, never thrown: events are advisory.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { isSandpodError } from '../errors.js';
import type { KubeClient } from './client.js';
import { LruCache } from './lru.js';
import type { KubeObject } from './object.js';

export type EventType = 'Normal' | 'Warning';

/** RFC 3339 with seconds, as Kubernetes writes times. */
export const kubeTime = (d = new Date()): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** RFC 3339 with microseconds, Kubernetes' MicroTime (series.lastObservedTime, eventTime). */
export const kubeMicroTime = (d = new Date()): string => d.toISOString().replace(/Z$/, '000Z');

export interface EventSource { component: string; host?: string }

/** Where events are written: the API, or a fake in tests. */
export interface EventSink {
  create(namespace: string, event: KubeObject): Promise<KubeObject>;
  /** A strategic merge patch of an existing Event. */
  patch(namespace: string, name: string, patch: Record<string, unknown>): Promise<KubeObject>;
}

export function kubeEventSink(client: KubeClient): EventSink {
  return {
    create: (ns, event) => client.create(`/api/v1/namespaces/${ns}/events`, event),
    patch: (ns, name, patch) => client.call('PATCH', `/api/v1/namespaces/${ns}/events/${name}`, { body: patch, contentType: 'application/strategic-merge-patch+json' }),
  };
}

export interface EventRecorderOptions {
  now?: () => Date;
  /** Entries in each LRU cache (client-go: 4096). */
  cacheSize?: number;
  /** Events a source may write about one object at once (client-go: 25). */
  burst?: number;
  /** How fast that allowance refills, in events per second (client-go: one per 5 minutes). */
  qps?: number;
  /** Different messages of a kind within the interval before they are combined (client-go: 10 in 10 minutes). */
  aggregateMaxEvents?: number;
  aggregateIntervalMs?: number;
  /** Events waiting to be written; more are dropped (client-go: 1000). */
  maxQueued?: number;
  /** Tries per event while the API server cannot be reached, and the wait between them (client-go: 12, 10 s). */
  maxTries?: number;
  retryDelayMs?: number;
  onError?: (err: unknown) => void;
}

interface Observation {
  count: number;
  firstTimestamp: string;
  name: string;
}

interface Aggregate {
  messages: Set<string>;
  last: number;
}

interface TokenBucket {
  tokens: number;
  at: number;
}

interface Pending {
  namespace: string;
  event: KubeObject;
  /** The strategic merge patch that updates the stored Event, for a repeat. */
  patch?: Record<string, unknown>;
  key: string;
  done: () => void;
  onError?: ((err: unknown) => void) | undefined;
}

type EventBody = KubeObject & {
  involvedObject: Record<string, unknown>;
  reason: string;
  message: string;
  type: EventType;
  source: EventSource;
  count: number;
  firstTimestamp: string;
  lastTimestamp: string;
};

const involvedKey = (e: EventBody): string => {
  const o = e.involvedObject;
  return [o['kind'], o['namespace'], o['name'], o['uid'], o['apiVersion']].map((v) => String(v ?? '')).join('\u0000');
};
const sourceKey = (e: EventBody): string => `${e.source.component}\u0000${e.source.host ?? ''}`;

export class EventRecorder {
  private readonly now: () => Date;
  private readonly observed: LruCache<string, Observation>;
  private readonly aggregates: LruCache<string, Aggregate>;
  private readonly buckets: LruCache<string, TokenBucket>;
  private readonly queue: Pending[] = [];
  private draining: Promise<void> | undefined;
  private sequence = 0;
  private readonly o: Required<Omit<EventRecorderOptions, 'now' | 'onError'>>;

  constructor(private readonly sink: EventSink, private readonly source: EventSource, private readonly opts: EventRecorderOptions = {}) {
    this.now = opts.now ?? (() => new Date());
    this.o = {
      cacheSize: opts.cacheSize ?? 4096, burst: opts.burst ?? 25, qps: opts.qps ?? 1 / 300,
      aggregateMaxEvents: opts.aggregateMaxEvents ?? 10, aggregateIntervalMs: opts.aggregateIntervalMs ?? 600_000,
      maxQueued: opts.maxQueued ?? 1000, maxTries: opts.maxTries ?? 12, retryDelayMs: opts.retryDelayMs ?? 10_000,
    };
    this.observed = new LruCache(this.o.cacheSize);
    this.aggregates = new LruCache(this.o.cacheSize);
    this.buckets = new LruCache(this.o.cacheSize);
  }

  /**
   * Records that `reason` happened to `obj`. Resolves once the Event is written, merged into one, or dropped (by the
   * rate limit, a full queue, or a failure reported to `onError`); never rejects.
   */
  record(obj: KubeObject, type: EventType, reason: string, message: string, onError?: (err: unknown) => void): Promise<void> {
    const now = this.now();
    const event = this.correlate(this.newEvent(obj, type, reason, message, now), now);
    if (!event) return Promise.resolve();
    if (this.queue.length >= this.o.maxQueued) {
      (onError ?? this.opts.onError)?.(new Error(`event queue full (${this.o.maxQueued}); dropped ${reason} for ${event.event.metadata.name ?? ''}`));
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.queue.push({ ...event, done: resolve, onError });
      this.draining ??= this.drain();
    });
  }

  /** Resolves when every event recorded so far has been handled. */
  async flush(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private newEvent(obj: KubeObject, type: EventType, reason: string, message: string, now: Date): EventBody {
    const stamp = kubeTime(now);
    return {
      apiVersion: 'v1', kind: 'Event',
      // Cluster-scoped objects (nodes) have their events in "default", as kube puts them.
      metadata: { name: this.eventName(obj.metadata.name ?? '', now), namespace: obj.metadata.namespace ?? 'default' },
      involvedObject: {
        apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata.name, uid: obj.metadata.uid, resourceVersion: obj.metadata.resourceVersion,
        ...(obj.metadata.namespace ? { namespace: obj.metadata.namespace } : {}),
      },
      reason, message, type, count: 1, firstTimestamp: stamp, lastTimestamp: stamp,
      source: this.source, reportingComponent: this.source.component, reportingInstance: this.source.host ?? this.source.component,
    };
  }

  /** `<object>.<hex nanoseconds>`, as client-go names events; a sequence keeps two in the same millisecond apart. */
  private eventName(objectName: string, now: Date): string {
    this.sequence = (this.sequence + 1) % 1_000_000;
    return `${objectName}.${(BigInt(now.getTime()) * 1_000_000n + BigInt(this.sequence)).toString(16)}`;
  }

  /** client-go's EventCorrelate: aggregate, observe (count repeats), then the spam filter. Undefined when filtered. */
  private correlate(incoming: EventBody, now: Date): Omit<Pending, 'done' | 'onError'> | undefined {
    let event = incoming;
    const kindKey = [sourceKey(event), involvedKey(event), event.type, event.reason].join('\u0000');
    let key = `${kindKey}\u0000${event.message}`;

    let aggregate = this.aggregates.get(kindKey);
    if (!aggregate || now.getTime() - aggregate.last > this.o.aggregateIntervalMs) aggregate = { messages: new Set(), last: 0 };
    aggregate.messages.add(event.message);
    aggregate.last = now.getTime();
    this.aggregates.set(kindKey, aggregate);
    if (aggregate.messages.size >= this.o.aggregateMaxEvents) {
      aggregate.messages.delete(aggregate.messages.values().next().value as string);
      event = { ...event, message: `(combined from similar events): ${event.message}` };
      key = kindKey;
    }

    const last = this.observed.get(key);
    let patch: Record<string, unknown> | undefined;
    if (last) {
      const count = last.count + 1;
      event = { ...event, metadata: { ...event.metadata, name: last.name }, count, firstTimestamp: last.firstTimestamp };
      const series = { count, lastObservedTime: kubeMicroTime(now) };
      event['series'] = series;
      patch = { count, lastTimestamp: event.lastTimestamp, message: event.message, series };
    }
    this.observed.set(key, { count: event.count, firstTimestamp: event.firstTimestamp, name: event.metadata.name ?? '' });

    if (!this.allow(`${sourceKey(event)}\u0000${involvedKey(event)}`, now.getTime())) return undefined;
    return { namespace: event.metadata.namespace ?? 'default', event, key, ...(patch ? { patch } : {}) };
  }

  /** The spam filter's token bucket for one source and object. */
  private allow(key: string, now: number): boolean {
    const b = this.buckets.get(key) ?? { tokens: this.o.burst, at: now };
    b.tokens = Math.min(this.o.burst, b.tokens + ((now - b.at) / 1000) * this.o.qps);
    b.at = now;
    const ok = b.tokens >= 1;
    if (ok) b.tokens -= 1;
    this.buckets.set(key, b);
    return ok;
  }

  /** Writes queued events one at a time, in order; ends (and clears `draining` in the same turn) when none is left. */
  private async drain(): Promise<void> {
    for (;;) {
      const next = this.queue.shift();
      if (!next) {
        this.draining = undefined;
        return;
      }
      await this.write(next);
      next.done();
    }
  }

  /** Writes one event: a PATCH for a repeat (a create if its Event has expired meanwhile), a create otherwise. */
  private async write(p: Pending): Promise<void> {
    for (let tries = 1; ; tries++) {
      try {
        let stored: KubeObject | undefined;
        if (p.patch) {
          try {
            stored = await this.sink.patch(p.namespace, p.event.metadata.name ?? '', p.patch);
          } catch (err) {
            if (!isSandpodError(err, 'NotFound')) throw err;
          }
        }
        stored ??= await this.sink.create(p.namespace, p.event);
        const count = typeof stored['count'] === 'number' ? stored['count'] : 1;
        this.observed.set(p.key, { count, firstTimestamp: String(stored['firstTimestamp'] ?? p.event['firstTimestamp']), name: stored.metadata.name ?? '' });
        return;
      } catch (err) {
        // The server answered and refused (a Status): retrying would not help. Otherwise wait and try again.
        const answered = isSandpodError(err) && err.kind !== 'Unavailable' && err.kind !== 'Timeout';
        if (answered || tries >= this.o.maxTries) {
          (p.onError ?? this.opts.onError)?.(err);
          return;
        }
        await sleep(tries === 1 ? Math.random() * this.o.retryDelayMs : this.o.retryDelayMs);
      }
    }
  }
}

const recorders = new WeakMap<KubeClient, Map<string, EventRecorder>>();

/**
 * Records an event through the recorder this client and source share (created on first use), so repeats merge and
 * rate limits hold across every caller of the same component.
 */
export function recordEvent(
  client: KubeClient, obj: KubeObject, type: EventType, reason: string, message: string, source: EventSource,
  onError: (err: unknown) => void = () => undefined,
): Promise<void> {
  let bySource = recorders.get(client);
  if (!bySource) recorders.set(client, (bySource = new Map()));
  const key = `${source.component}\u0000${source.host ?? ''}`;
  let recorder = bySource.get(key);
  if (!recorder) bySource.set(key, (recorder = new EventRecorder(kubeEventSink(client), source)));
  return recorder.record(obj, type, reason, message, onError);
}
