import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../kube/index.js';
import { decodeContinue, encodeContinue, parseListOptions, readPage, type RangeReader } from './paging.js';
import { statusFor } from './status.js';
import type { RangePage } from './store.js';

const prefix = '/registry/core/pods/';

/** An etcd range over sorted keys at one revision, counting the reads it serves. */
function fakeRange(keys: string[], revision = 42): RangeReader & { reads: Array<{ start: string; limit: number; revision?: number }> } {
  const sorted = [...keys].sort();
  const reads: Array<{ start: string; limit: number; revision?: number }> = [];
  return {
    reads,
    range: (start, end, opts): Promise<RangePage> => {
      reads.push({ start, limit: opts.limit, ...(opts.revision !== undefined ? { revision: opts.revision } : {}) });
      const inRange = sorted.filter((k) => k >= start && k < end);
      const page = inRange.slice(0, opts.limit);
      const pod = (k: string): KubeObject => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: k.split('/').pop() ?? '', labels: { even: String(Number(k.slice(-3)) % 2 === 0) } } });
      return Promise.resolve({ entries: page.map((key) => ({ key, object: pod(key) })), revision, more: inRange.length > page.length, count: inRange.length });
    },
  };
}

const keys = Array.from({ length: 1200 }, (_, i) => `${prefix}ns/p${String(i).padStart(4, '0')}`);

test('pages of 500 chain through continue tokens to every object once, at the first page\'s revision, with remainingItemCount', async () => {
  const store = fakeRange(keys);
  const seen: string[] = [];
  let token: string | undefined;
  const remaining: Array<number | undefined> = [];
  let start = prefix;
  let revision: number | undefined;
  do {
    const page = await readPage(store, prefix, start, { limit: 500, keep: () => true, filtered: false, ...(revision !== undefined ? { revision } : {}) });
    seen.push(...page.items.map((o) => o.metadata.name ?? ''));
    remaining.push(page.remainingItemCount);
    token = page.continueToken;
    if (token) ({ key: start, revision } = decodeContinue(token, prefix));
  } while (token);
  assert.equal(seen.length, 1200);
  assert.equal(new Set(seen).size, 1200);
  assert.deepEqual(remaining, [700, 200, undefined]);
  assert.deepEqual(store.reads.map((r) => r.revision), [undefined, 42, 42], 'later pages read at the revision of the first');
});

test('a selector that drops objects reads more keys (doubling) until the page is full, and gives no remainingItemCount', async () => {
  const store = fakeRange(keys);
  const page = await readPage(store, prefix, prefix, { limit: 300, keep: (o) => o.metadata.labels?.['even'] === 'true', filtered: true });
  assert.equal(page.items.length, 300);
  assert.ok(page.items.every((o) => o.metadata.labels?.['even'] === 'true'));
  assert.deepEqual(store.reads.map((r) => r.limit), [300, 600]);
  assert.equal(page.remainingItemCount, undefined);
  assert.ok(page.continueToken);
});

test('continue tokens are kube\'s format and refuse what kube refuses', () => {
  const token = encodeContinue(`${prefix}ns/p0500\0`, prefix, 42);
  assert.deepEqual(JSON.parse(Buffer.from(token, 'base64url').toString()), { v: 'meta.k8s.io/v1', rv: 42, start: 'ns/p0500\0' });
  assert.deepEqual(decodeContinue(token, prefix), { key: `${prefix}ns/p0500\0`, revision: 42 });
  const bad = (t: string): string => {
    try {
      decodeContinue(t, prefix);
    } catch (err) {
      const s = statusFor(err);
      assert.equal(s.code, 400);
      return s.message ?? '';
    }
    assert.fail(`${t} was accepted`);
  };
  const enc = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  assert.match(bad('%%%'), /^invalid continue token: continue key is not valid/);
  assert.match(bad(enc({ v: 'meta.k8s.io/v2', rv: 1, start: 'a' })), /server does not recognize this encoded version/);
  assert.match(bad(enc({ v: 'meta.k8s.io/v1', rv: 0, start: 'a' })), /incorrect encoded start resourceVersion/);
  assert.match(bad(enc({ v: 'meta.k8s.io/v1', rv: 5, start: '' })), /encoded start key empty/);
  assert.match(bad(enc({ v: 'meta.k8s.io/v1', rv: 5, start: '../secrets/x' })), /continue key is not valid: \.\.\/secrets\/x/);
});

test('list options: limit, continue and resourceVersionMatch are checked as kube checks them', () => {
  assert.deepEqual(parseListOptions(new URLSearchParams('limit=500')), { limit: 500, continueToken: '', resourceVersion: '', resourceVersionMatch: '' });
  const refuse = (q: string, code: number, message: RegExp): void => {
    assert.throws(() => parseListOptions(new URLSearchParams(q)), (err) => statusFor(err).code === code && message.test(statusFor(err).message ?? ''), q);
  };
  refuse('limit=abc', 400, /invalid limit "abc"/);
  refuse('continue=x&resourceVersion=5', 400, /specifying resource version is not allowed when using continue/);
  refuse('resourceVersionMatch=Exact', 422, /resourceVersionMatch is forbidden unless resourceVersion is provided/);
  refuse('resourceVersionMatch=Exact&resourceVersion=0', 422, /"exact" is forbidden for resourceVersion "0"/);
  refuse('resourceVersionMatch=Newest&resourceVersion=3', 422, /Unsupported value: "Newest"/);
  refuse('resourceVersion=abc', 400, /invalid resourceVersion "abc"/);
});
