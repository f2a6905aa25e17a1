import { test } from 'node:test';
import assert from 'node:assert/strict';
import { until } from './fake-api.js';
import { WorkQueue } from './work-queue.js';

test('a key added many times is synced once; one added during its sync is synced again after it, never alongside', async () => {
  const synced: string[] = [];
  let running = 0;
  let overlap = false;
  let release: (() => void) | undefined;
  const queue = new WorkQueue(async (key) => {
    running++;
    overlap ||= running > 1;
    synced.push(key);
    if (synced.length === 1) await new Promise<void>((r) => { release = r; });
    running--;
    return undefined;
  }, { onError: () => undefined });
  queue.add('a');
  queue.add('a');
  await until('the first sync', () => release);
  queue.add('a');
  queue.add('a');
  release!();
  await until('the queue to be idle', () => (queue.idle && synced.length === 2) || undefined);
  assert.deepEqual(synced, ['a', 'a']);
  assert.equal(overlap, false);
  queue.stop();
});

test('a sync that asks to be looked at again is; one that throws is retried after the back-off and reported', async () => {
  const synced: string[] = [];
  const errors: string[] = [];
  const queue = new WorkQueue(async (key) => {
    synced.push(key);
    if (key === 'boom' && synced.filter((k) => k === 'boom').length === 1) throw new Error('API server away');
    return key === 'again' && synced.filter((k) => k === 'again').length < 3 ? 5 : undefined;
  }, { onError: (key, err) => errors.push(`${key}: ${(err as Error).message}`), errorBackoffMs: 5 });
  queue.add('again');
  queue.add('boom');
  await until('both done', () => (queue.idle && synced.length === 5) || undefined);
  assert.deepEqual(synced.filter((k) => k === 'again').length, 3);
  assert.deepEqual(errors, ['boom: API server away']);
  queue.stop();
});

test('addAfter keeps the sooner of two times; stop cancels what waits', async () => {
  const synced: string[] = [];
  const queue = new WorkQueue(async (key) => { synced.push(key); return undefined; }, { onError: () => undefined });
  queue.addAfter('k', 60_000);
  queue.addAfter('k', 5);
  await until('k synced', () => (synced.length === 1) || undefined);
  queue.addAfter('late', 60_000);
  assert.equal(queue.idle, false);
  queue.stop();
  assert.equal(queue.idle, true);
});
