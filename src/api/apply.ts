/**
 * Server-side apply, as far as `kubectl apply --server-side` needs: the applied configuration is merged like a
 * strategic patch, the fields it set are recorded per field manager in metadata.managedFields (FieldsV1), and a
 * field the same manager applied before but no longer applies is removed. Conflicts between managers are not
 * detected: the last applier wins.
 */
import { isRecord, type KubeObject } from '../kube/index.js';
import { mergeKeys, strategicMerge } from './patch.js';

export type FieldSet = { [key: string]: FieldSet };

const untracked = new Set(['apiVersion', 'kind']);
const untrackedMeta = new Set(['name', 'namespace', 'uid', 'resourceVersion', 'creationTimestamp', 'managedFields', 'generation']);

const itemKey = (mk: string, item: Record<string, unknown>): string => `k:${JSON.stringify({ [mk]: item[mk] })}`;

/** The fields a configuration sets, in kube's FieldsV1 shape. */
export function fieldSet(value: unknown, name = '', depth = 0): FieldSet {
  const out: FieldSet = {};
  if (!isRecord(value)) return out;
  for (const [k, v] of Object.entries(value)) {
    if (depth === 0 && untracked.has(k)) continue;
    if (depth === 1 && name === 'metadata' && untrackedMeta.has(k)) continue;
    const mk = mergeKeys[k];
    if (Array.isArray(v) && mk && v.every((x) => isRecord(x) && x[mk] !== undefined)) {
      const items: FieldSet = {};
      for (const item of v as Array<Record<string, unknown>>) items[itemKey(mk, item)] = { '.': {}, ...fieldSet(item, k, depth + 1) };
      out[`f:${k}`] = items;
    } else {
      out[`f:${k}`] = isRecord(v) ? fieldSet(v, k, depth + 1) : {};
    }
  }
  return out;
}

/** Removes from `obj` what `before` owned and `after` no longer does; what only other managers set stays. */
function removeDropped(obj: unknown, before: FieldSet, after: FieldSet): void {
  if (!isRecord(obj)) return;
  for (const [key, sub] of Object.entries(before)) {
    if (!key.startsWith('f:')) continue;
    const field = key.slice(2);
    const kept = after[key];
    const v = obj[field];
    if (Object.keys(sub).length === 0) {
      if (!kept) delete obj[field];
      continue;
    }
    const mk = mergeKeys[field];
    if (Array.isArray(v) && mk) {
      obj[field] = v.filter((item) => {
        if (!isRecord(item)) return true;
        const k = itemKey(mk, item);
        const owned = sub[k];
        const still = kept?.[k];
        if (owned && !still) return false;
        if (owned && still) removeDropped(item, owned, still);
        return true;
      });
      if (!kept && (obj[field] as unknown[]).length === 0) delete obj[field];
    } else if (isRecord(v)) {
      removeDropped(v, sub, kept ?? {});
      if (!kept && Object.keys(v).length === 0) delete obj[field];
    }
  }
}

interface ManagedFieldsEntry {
  manager: string;
  operation: string;
  apiVersion: string;
  time: string;
  fieldsType: 'FieldsV1';
  fieldsV1: FieldSet;
}

const entriesOf = (o: KubeObject): ManagedFieldsEntry[] => (Array.isArray(o.metadata.managedFields) ? (o.metadata.managedFields as ManagedFieldsEntry[]) : []);

/** Records that `manager` applied `config` to `obj` (replacing its earlier Apply entry). */
export function recordApply(obj: KubeObject, manager: string, config: unknown, now: string): KubeObject {
  const others = entriesOf(obj).filter((e) => !(e.manager === manager && e.operation === 'Apply'));
  obj.metadata.managedFields = [...others, { manager, operation: 'Apply', apiVersion: obj.apiVersion, time: now, fieldsType: 'FieldsV1', fieldsV1: fieldSet(config) }];
  return obj;
}

/** The object after `manager` applies `config` to `current`. */
export function applyConfiguration(current: KubeObject, config: Record<string, unknown>, manager: string, now: string): KubeObject {
  const previous = entriesOf(current).find((e) => e.manager === manager && e.operation === 'Apply');
  const merged = strategicMerge(current, config) as KubeObject;
  if (previous) removeDropped(merged, previous.fieldsV1, fieldSet(config));
  return recordApply(merged, manager, config, now);
}
