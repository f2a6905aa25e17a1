/**
 * The PATCH flavours kubectl and clients send: JSON merge patch (RFC 7386), JSON patch (RFC 6902, via
 * fast-json-patch), strategic merge patch (the subset kubectl apply/edit/label produce) and server-side apply
 * (merged like a strategic patch; field ownership is recorded, not enforced).
 */
import jsonPatch from 'fast-json-patch';
import { SandpodError } from '../errors.js';
import { isRecord } from '../kube/index.js';
import { badRequest } from './status.js';

export type PatchType = 'merge' | 'json' | 'strategic' | 'apply';

export function patchTypeOf(contentType: string | undefined): PatchType | undefined {
  const ct = (contentType ?? '').split(';')[0]!.trim();
  switch (ct) {
    case 'application/merge-patch+json': return 'merge';
    case 'application/json-patch+json': return 'json';
    case 'application/strategic-merge-patch+json': return 'strategic';
    case 'application/apply-patch+yaml': return 'apply';
    default: return undefined;
  }
}

/** RFC 7386: objects merge recursively, null deletes, everything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isRecord(patch)) return patch;
  const out: Record<string, unknown> = isRecord(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** kube-apiserver's limit on the operations of one JSON patch. */
export const maxJsonPatchOperations = 10_000;

/** RFC 6902 operations applied to a copy; a failed `test` or a bad path is a 422-free 400 like kube's. */
export function applyJsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw badRequest('a JSON patch must be an array of operations');
  if (ops.length > maxJsonPatchOperations) {
    throw new SandpodError('TooLarge', `The allowed maximum operations in a JSON patch is ${maxJsonPatchOperations}, got ${ops.length}`);
  }
  try {
    return jsonPatch.applyPatch(structuredClone(target), ops as jsonPatch.Operation[], true, false).newDocument;
  } catch (err) {
    throw badRequest(`the JSON patch could not be applied: ${(err as Error).message}`);
  }
}

/** Merge keys of the lists Sandpod's resources have, by field name (the names do not collide across kinds). */
export const mergeKeys: Record<string, string> = {
  containers: 'name', initContainers: 'name', ephemeralContainers: 'name', volumes: 'name', env: 'name',
  imagePullSecrets: 'name', volumeMounts: 'mountPath', volumeDevices: 'devicePath', ports: 'containerPort',
  conditions: 'type', addresses: 'type', taints: 'key', hostAliases: 'ip', readinessGates: 'conditionType',
  resourceClaims: 'name', schedulingGates: 'name', secrets: 'name',
};

/** Lists of scalars that merge as sets. */
const mergedPrimitiveLists = new Set(['finalizers']);

function mergeList(key: string, target: unknown[], patch: unknown[], order: unknown[] | undefined): unknown[] {
  const mk = mergeKeys[key];
  const keyed = (xs: unknown[]): boolean => xs.every((x) => isRecord(x) && x[mk!] !== undefined);
  if (patch.some((p) => isRecord(p) && p['$patch'] === 'replace')) {
    return patch.filter((p) => !(isRecord(p) && p['$patch'] === 'replace')).map((p) => strategicMerge(undefined, p));
  }
  if (!mk || !keyed(patch) || !keyed(target)) {
    if (mergedPrimitiveLists.has(key)) return [...target, ...patch.filter((p) => !target.includes(p))];
    return patch.map((p) => strategicMerge(undefined, p));
  }
  const out = target.map((t) => structuredClone(t)) as Array<Record<string, unknown>>;
  for (const p of patch as Array<Record<string, unknown>>) {
    const idx = out.findIndex((t) => t[mk] === p[mk]);
    if (p['$patch'] === 'delete') {
      if (idx >= 0) out.splice(idx, 1);
    } else if (idx >= 0) out[idx] = strategicMerge(out[idx], p) as Record<string, unknown>;
    else out.push(strategicMerge(undefined, p) as Record<string, unknown>);
  }
  if (order) {
    const pos = (x: Record<string, unknown>): number => {
      const i = order.findIndex((o) => isRecord(o) && o[mk] === x[mk]);
      return i < 0 ? Number.MAX_SAFE_INTEGER : i;
    };
    out.sort((a, b) => pos(a) - pos(b));
  }
  return out;
}

/** A strategic merge patch applied to a copy of `target`. Directives ($patch, $setElementOrder, $retainKeys, $deleteFromPrimitiveList) are honoured and stripped. */
export function strategicMerge(target: unknown, patch: unknown): unknown {
  if (!isRecord(patch)) return structuredClone(patch);
  if (patch['$patch'] === 'replace') {
    const { $patch: _p, ...rest } = patch;
    return strategicMerge(undefined, rest);
  }
  if (patch['$patch'] === 'delete') return undefined;
  const out: Record<string, unknown> = isRecord(target) ? structuredClone(target) : {};
  const retain = Array.isArray(patch['$retainKeys']) ? (patch['$retainKeys'] as string[]) : undefined;
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$setElementOrder/') || k === '$retainKeys' || k === '$patch') continue;
    if (k.startsWith('$deleteFromPrimitiveList/')) {
      const list = k.slice('$deleteFromPrimitiveList/'.length);
      const cur = out[list];
      if (Array.isArray(cur) && Array.isArray(v)) out[list] = cur.filter((x) => !v.includes(x));
      continue;
    }
    if (v === null) {
      delete out[k];
    } else if (Array.isArray(v)) {
      const order = patch[`$setElementOrder/${k}`];
      out[k] = mergeList(k, Array.isArray(out[k]) ? (out[k] as unknown[]) : [], v, Array.isArray(order) ? order : undefined);
    } else if (isRecord(v)) {
      const merged = strategicMerge(out[k], v);
      if (merged === undefined) delete out[k];
      else out[k] = merged;
    } else {
      out[k] = v;
    }
  }
  for (const [k, v] of Object.entries(patch)) {
    if (!k.startsWith('$setElementOrder/')) continue;
    const list = k.slice('$setElementOrder/'.length);
    if (!(list in patch) && Array.isArray(out[list]) && Array.isArray(v)) out[list] = mergeList(list, out[list] as unknown[], [], v);
  }
  if (retain) for (const k of Object.keys(out)) if (!retain.includes(k)) delete out[k];
  return out;
}
