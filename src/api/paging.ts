/**
 * List options and paging as kube-apiserver does them: `limit` and an opaque `continue` token (apimachinery's
 * storage/continue.go format: base64url of {"v":"meta.k8s.io/v1","rv":<revision>,"start":<key after the prefix>}),
 * pages read from etcd at the token's revision, filtered as they are read, and `remainingItemCount` when nothing
 * is filtered (apiserver/pkg/storage/etcd3/store.go GetList).
 */
import { notSupported, forbidden, ValidationError, type FieldError, type KubeObject } from '../kube/index.js';
import { badRequest } from './status.js';
import type { RangePage } from './store.js';
import { prefixEnd } from './store.js';

export type ResourceVersionMatch = '' | 'NotOlderThan' | 'Exact';

export interface ListOptions {
  /** Items per page; 0 for all of them. */
  limit: number;
  continueToken: string;
  resourceVersion: string;
  resourceVersionMatch: ResourceVersionMatch;
}

export const allItems: ListOptions = { limit: 0, continueToken: '', resourceVersion: '', resourceVersionMatch: '' };

/** The list options of a query, checked as kube's ValidateListOptions checks them. */
export function parseListOptions(query: URLSearchParams): ListOptions {
  const rawLimit = query.get('limit') ?? '';
  const limit = rawLimit === '' ? 0 : Number(rawLimit);
  if (!Number.isSafeInteger(limit)) throw badRequest(`invalid limit "${rawLimit}": expected an integer`);
  const opts: ListOptions = {
    limit: Math.max(0, limit),
    continueToken: query.get('continue') ?? '',
    resourceVersion: query.get('resourceVersion') ?? '',
    resourceVersionMatch: (query.get('resourceVersionMatch') ?? '') as ResourceVersionMatch,
  };
  const errs: FieldError[] = [];
  const match = opts.resourceVersionMatch;
  if (match !== '' && match !== 'NotOlderThan' && match !== 'Exact') {
    errs.push(notSupported('resourceVersionMatch', match, ['Exact', 'NotOlderThan', '']));
  } else if (match !== '') {
    if (opts.resourceVersion === '') errs.push(forbidden('resourceVersionMatch', 'resourceVersionMatch is forbidden unless resourceVersion is provided'));
    if (opts.continueToken !== '') errs.push(forbidden('resourceVersionMatch', 'resourceVersionMatch is forbidden when continue is provided'));
    if (match === 'Exact' && opts.resourceVersion === '0') errs.push(forbidden('resourceVersionMatch', 'resourceVersionMatch "exact" is forbidden for resourceVersion "0"'));
  }
  if (errs.length > 0) throw new ValidationError('ListOptions.meta.k8s.io', '', errs);
  if (opts.resourceVersion !== '' && !/^\d+$/.test(opts.resourceVersion)) {
    throw badRequest(`invalid resourceVersion "${opts.resourceVersion}": expected the resourceVersion of a list or object`);
  }
  if (opts.continueToken !== '' && opts.resourceVersion !== '' && opts.resourceVersion !== '0') {
    throw badRequest('specifying resource version is not allowed when using continue');
  }
  return opts;
}

/** The token that continues a list of `prefix` at `key` (the first key not yet returned), read at `revision` (-1: the newest). */
export function encodeContinue(key: string, prefix: string, revision: number): string {
  if (!key.startsWith(prefix) || key === prefix) throw new Error(`unable to encode next field: the key and key prefix do not match ${prefix} ${key}`);
  return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv: revision, start: key.slice(prefix.length) })).toString('base64url');
}

/** The key and revision a continue token names, or 400 with kube's reason when it is not one this server issued. */
export function decodeContinue(token: string, prefix: string): { key: string; revision: number } {
  const invalid = (why: string): Error => badRequest(`invalid continue token: continue key is not valid${why}`);
  let parsed: unknown;
  try {
    if (!/^[A-Za-z0-9_-]*$/.test(token)) throw new Error('illegal base64 data');
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch (err) {
    throw invalid(`: ${(err as Error).message}`);
  }
  const c = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as { v?: unknown; rv?: unknown; start?: unknown };
  if (c.v !== 'meta.k8s.io/v1') throw invalid(`: server does not recognize this encoded version ${String(c.v)}`);
  if (typeof c.rv !== 'number' || !Number.isSafeInteger(c.rv) || c.rv === 0) throw invalid(': incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
  if (typeof c.start !== 'string' || c.start === '') throw invalid(': encoded start key empty (version meta.k8s.io/v1)');
  // Like Go's path.Clean test in kube: the start key may not climb out of the list's prefix.
  const segments = c.start.split('/');
  if (segments.some((s, i) => s === '.' || s === '..' || (s === '' && i > 0)) || c.start.startsWith('/')) throw invalid(`: ${c.start}`);
  return { key: `${prefix}${c.start}`, revision: c.rv };
}

export interface Page {
  items: KubeObject[];
  revision: number;
  continueToken?: string;
  remainingItemCount?: number;
}

/** Reads ranges of keys, as EtcdStore.range does. */
export interface RangeReader {
  range(start: string, end: string, opts: { revision?: number; limit: number }): Promise<RangePage>;
}

const maxBatch = 10_000;

/**
 * One page of the list of `prefix` from `start` on: up to `limit` objects that `keep` accepts, read at `revision`
 * (the newest when undefined). When a selector drops objects, more keys are read (twice as many each time, at most
 * 10,000 a read) until the page is full, as kube-apiserver does.
 */
export async function readPage(store: RangeReader, prefix: string, start: string, opts: {
  revision?: number; limit: number; keep: (obj: KubeObject) => boolean; filtered: boolean;
}): Promise<Page> {
  const end = prefixEnd(prefix);
  const items: KubeObject[] = [];
  let revision = opts.revision;
  let key = start;
  let batch = opts.limit;
  let lastKey: string | undefined;
  let more = false;
  let count = 0;
  for (;;) {
    const page = await store.range(key, end, { ...(revision !== undefined ? { revision } : {}), limit: batch });
    revision ??= page.revision;
    more = page.more;
    count = page.count;
    for (const e of page.entries) {
      if (items.length >= opts.limit) {
        more = true;
        break;
      }
      lastKey = e.key;
      if (opts.keep(e.object)) items.push(e.object);
    }
    if (!more || items.length >= opts.limit || lastKey === undefined) break;
    batch = Math.min(batch * 2, maxBatch);
    key = `${lastKey}\0`;
  }
  if (!more || lastKey === undefined) return { items, revision };
  return {
    items, revision,
    continueToken: encodeContinue(`${lastKey}\0`, prefix, revision),
    ...(opts.filtered ? {} : { remainingItemCount: Math.max(0, count - opts.limit) }),
  };
}
