import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SandpodError } from '../errors.js';
import { EventRecorder, type EventRecorderOptions, type EventSink } from './events.js';
import type { KubeObject } from './object.js';

/** An API that keeps Events in memory and says what it was asked; `failures` are thrown by the next calls. */
class FakeEventSink implements EventSink {
  readonly stored = new Map<string, KubeObject>();
  readonly calls: string[] = [];
  failures: Error[] = [];
  gate: Promise<void> | undefined;

  async create(namespace: string, event: KubeObject): Promise<KubeObject> {
    await this.gate;
    this.calls.push(`create ${String(event['reason'])} count=${String(event['count'])}`);
    const f = this.failures.shift();
    if (f) throw f;
    const key = `${namespace}/${event.metadata.name ?? ''}`;
    if (this.stored.has(key)) throw new SandpodError('AlreadyExists', `events "${event.metadata.name ?? ''}" already exists`);
    this.stored.set(key, structuredClone(event));
    return event;
  }

  async patch(namespace: string, name: string, patch: Record<string, unknown>): Promise<KubeObject> {
    await this.gate;
    this.calls.push(`patch count=${String(patch['count'])}`);
    const f = this.failures.shift();
    if (f) throw f;
    const current = this.stored.get(`${namespace}/${name}`);
    if (!current) throw new SandpodError('NotFound', `events "${name}" not found`);
    const next = { ...current, ...structuredClone(patch) };
    this.stored.set(`${namespace}/${name}`, next);
    return next;
  }

  events(): KubeObject[] {
    return [...this.stored.values()];
  }
}

const crashy: KubeObject = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'crashy', namespace: 'team', uid: 'u1', resourceVersion: '7' } };
const podNamed = (name: string): KubeObject => ({ ...crashy, metadata: { ...crashy.metadata, name, uid: name } });

function setup(opts: EventRecorderOptions = {}): { sink: FakeEventSink; recorder: EventRecorder; clock: { t: number } } {
  const sink = new FakeEventSink();
  const clock = { t: Date.parse('2026-03-01T10:00:00Z') };
  const recorder = new EventRecorder(sink, { component: 'kubelet', host: 'node-1' }, { now: () => new Date(clock.t), retryDelayMs: 1, ...opts });
  return { sink, recorder, clock };
}

test('a repeat patches the Event it wrote: count, lastTimestamp and series go up, firstTimestamp stays', async () => {
  const { sink, recorder, clock } = setup();
  for (let i = 0; i < 5; i++) {
    await recorder.record(crashy, 'Warning', 'BackOff', 'Back-off restarting failed container app');
    clock.t += 10_000;
  }
  assert.deepEqual(sink.calls, ['create BackOff count=1', 'patch count=2', 'patch count=3', 'patch count=4', 'patch count=5']);
  const [event] = sink.events();
  assert.equal(sink.events().length, 1);
  assert.equal(event!['count'], 5);
  assert.equal(event!['firstTimestamp'], '2026-03-01T10:00:00Z');
  assert.equal(event!['lastTimestamp'], '2026-03-01T10:00:40Z');
  assert.deepEqual(event!['series'], { count: 5, lastObservedTime: '2026-03-01T10:00:40.000000Z' });
  assert.deepEqual(event!['involvedObject'], { apiVersion: 'v1', kind: 'Pod', name: 'crashy', uid: 'u1', resourceVersion: '7', namespace: 'team' });
  assert.match(event!.metadata.name ?? '', /^crashy\.[0-9a-f]+$/);
});

test('one source may write 25 events about an object at once, then one every 5 minutes; the skipped ones are counted', async () => {
  const { sink, recorder, clock } = setup();
  for (let i = 0; i < 40; i++) await recorder.record(crashy, 'Warning', 'BackOff', 'Back-off restarting failed container app');
  assert.equal(sink.calls.length, 25);
  await recorder.record(podNamed('other'), 'Normal', 'Pulled', 'pulled');
  assert.equal(sink.calls.length, 26, 'another object has its own allowance');
  clock.t += 300_000;
  await recorder.record(crashy, 'Warning', 'BackOff', 'Back-off restarting failed container app');
  await recorder.record(crashy, 'Warning', 'BackOff', 'Back-off restarting failed container app');
  assert.deepEqual(sink.calls.slice(26), ['patch count=41'], 'one more after 5 minutes, carrying every occurrence');
});

test('more than 10 messages of one reason in 10 minutes are combined into one Event', async () => {
  const { sink, recorder, clock } = setup();
  for (let i = 1; i <= 12; i++) await recorder.record(crashy, 'Warning', 'Failed', `Error: image pull ${i} failed`);
  const messages = sink.events().map((e) => String(e['message']));
  assert.equal(messages.length, 10);
  assert.deepEqual(messages.slice(0, 9), Array.from({ length: 9 }, (_, i) => `Error: image pull ${i + 1} failed`));
  const combined = sink.events()[9]!;
  assert.equal(combined['message'], '(combined from similar events): Error: image pull 12 failed');
  assert.equal(combined['count'], 3);
  clock.t += 601_000;
  await recorder.record(crashy, 'Warning', 'Failed', 'Error: image pull 13 failed');
  assert.equal(sink.events().at(-1)!['message'], 'Error: image pull 13 failed', 'a quiet interval starts afresh');
});

test('an Event that expired meanwhile is created again with its count', async () => {
  const { sink, recorder } = setup();
  await recorder.record(crashy, 'Warning', 'BackOff', 'back-off');
  await recorder.record(crashy, 'Warning', 'BackOff', 'back-off');
  sink.stored.clear();
  await recorder.record(crashy, 'Warning', 'BackOff', 'back-off');
  assert.deepEqual(sink.calls, ['create BackOff count=1', 'patch count=2', 'patch count=3', 'create BackOff count=3']);
  assert.equal(sink.events().length, 1);
});

test('what was sent is kept in bounded LRU caches: an evicted event starts a new Event', async () => {
  const { sink, recorder } = setup({ cacheSize: 10 });
  await recorder.record(podNamed('p0'), 'Normal', 'Started', 'started');
  for (let i = 1; i <= 10; i++) await recorder.record(podNamed(`p${i}`), 'Normal', 'Started', 'started');
  await recorder.record(podNamed('p0'), 'Normal', 'Started', 'started');
  assert.equal(sink.calls.at(-1), 'create Started count=1');
  await recorder.record(podNamed('p10'), 'Normal', 'Started', 'started');
  assert.equal(sink.calls.at(-1), 'patch count=2', 'a recent one is still merged');
});

test('an unreachable API is tried again; a refusal is reported, not retried', async () => {
  const errors: unknown[] = [];
  const { sink, recorder } = setup({ onError: (e) => errors.push(e) });
  sink.failures = [new SandpodError('Unavailable', 'cannot reach the API server'), new SandpodError('Unavailable', 'cannot reach the API server')];
  await recorder.record(crashy, 'Normal', 'Scheduled', 'assigned');
  assert.equal(sink.events().length, 1);
  assert.equal(sink.calls.length, 3);
  sink.failures = [new SandpodError('Invalid', 'Event "x" is invalid')];
  await recorder.record(crashy, 'Normal', 'Other', 'x');
  assert.equal(errors.length, 1);
  assert.equal(sink.calls.length, 4);
  const { sink: down, recorder: patient } = setup({ maxTries: 3, onError: (e) => errors.push(e) });
  down.failures = Array.from({ length: 5 }, () => new SandpodError('Unavailable', 'down'));
  await patient.record(crashy, 'Normal', 'Scheduled', 'assigned');
  assert.equal(down.calls.length, 3, 'given up after maxTries');
  assert.equal(errors.length, 2);
});

test('at most maxQueued events wait; more are dropped and reported', async () => {
  const errors: unknown[] = [];
  const { sink, recorder } = setup({ maxQueued: 3, onError: (e) => errors.push(e) });
  let open!: () => void;
  sink.gate = new Promise((resolve) => { open = resolve; });
  const pending = Array.from({ length: 5 }, (_, i) => recorder.record(podNamed(`q${i}`), 'Normal', 'Started', 'started'));
  await recorder.record(podNamed('q5'), 'Normal', 'Started', 'started');
  open();
  await Promise.all(pending);
  await recorder.flush();
  assert.equal(sink.events().length, 4, 'the one being written and three waiting');
  assert.equal(errors.length, 2);
  assert.ok(errors.every((e) => /event queue full \(3\); dropped Started for q[45]\./.test(String(e))), String(errors));
});
