/**
 * The files of configMap, secret, downwardAPI and projected volumes, as kubelet writes them: which key goes
 * to which path with which mode, downward API values formatted like kubelet's (labels as `key="value"` lines),
 * and kubelet's errors for what is missing. Pure: the objects come from the caller.
 */
import { invalid } from '../errors.js';
import {
  DEFAULT_VOLUME_MODE, type DownwardApiItem, type KeyToPath, type KubeObject, type PodSpec, type Volume,
} from '../kube/index.js';
import { fieldValue, resourceValue, type PodFacts } from './downward.js';

/** A file of a volume: its content and mode, by path relative to the volume. */
export type Projection = Map<string, { data: Buffer; mode: number }>;

/** What a configMap or secret holds, key by key (undefined when it does not exist). */
export type KeyedData = Record<string, Buffer> | undefined;

export interface ProjectionSources {
  configMap(name: string): KeyedData;
  secret(name: string): KeyedData;
}

/** A volume that cannot be set up yet; the message is kubelet's, for the FailedMount event. */
export const mountError = (volume: string, message: string): Error =>
  invalid(`volume/${volume}`, `MountVolume.SetUp failed for volume "${volume}" : ${message}`);

function project(
  out: Projection, volume: string, kind: 'configmap' | 'secret', name: string, data: KeyedData,
  items: KeyToPath[] | undefined, optional: boolean, mode: number,
): void {
  if (!data) {
    if (optional) return;
    throw mountError(volume, `${kind} "${name}" not found`);
  }
  if (!items || items.length === 0) {
    for (const [key, value] of Object.entries(data)) out.set(key, { data: value, mode });
    return;
  }
  for (const it of items) {
    const value = data[it.key];
    if (value === undefined) {
      if (optional) continue;
      throw mountError(volume, `${kind === 'configmap' ? 'configmap' : 'secret'} references non-existent ${kind === 'configmap' ? 'config' : 'secret'} key: ${it.key}`);
    }
    out.set(it.path, { data: value, mode: it.mode ?? mode });
  }
}

function downward(out: Projection, items: DownwardApiItem[] | undefined, mode: number, pod: KubeObject, spec: PodSpec, facts: PodFacts): void {
  for (const it of items ?? []) {
    let text: string;
    if (it.fieldRef) text = fieldValue(it.fieldRef.fieldPath, pod, spec, facts);
    else if (it.resourceFieldRef) text = resourceValue(it.resourceFieldRef, spec, it.resourceFieldRef.containerName ?? '', facts);
    else continue;
    out.set(it.path, { data: Buffer.from(text), mode: it.mode ?? mode });
  }
}

/** The files a volume of one of the projected kinds holds now; undefined for the other kinds. */
export function projectVolume(v: Volume, pod: KubeObject, spec: PodSpec, facts: PodFacts, sources: ProjectionSources): Projection | undefined {
  const out: Projection = new Map();
  if (v.configMap) {
    const name = v.configMap.name ?? '';
    project(out, v.name, 'configmap', name, sources.configMap(name), v.configMap.items, v.configMap.optional ?? false, v.configMap.defaultMode ?? DEFAULT_VOLUME_MODE);
  } else if (v.secret) {
    const name = v.secret.secretName ?? '';
    project(out, v.name, 'secret', name, sources.secret(name), v.secret.items, v.secret.optional ?? false, v.secret.defaultMode ?? DEFAULT_VOLUME_MODE);
  } else if (v.downwardAPI) {
    downward(out, v.downwardAPI.items, v.downwardAPI.defaultMode ?? DEFAULT_VOLUME_MODE, pod, spec, facts);
  } else if (v.projected) {
    const mode = v.projected.defaultMode ?? DEFAULT_VOLUME_MODE;
    for (const s of v.projected.sources ?? []) {
      if (s.configMap) project(out, v.name, 'configmap', s.configMap.name ?? '', sources.configMap(s.configMap.name ?? ''), s.configMap.items, s.configMap.optional ?? false, mode);
      if (s.secret) project(out, v.name, 'secret', s.secret.name ?? '', sources.secret(s.secret.name ?? ''), s.secret.items, s.secret.optional ?? false, mode);
      if (s.downwardAPI) downward(out, s.downwardAPI.items, mode, pod, spec, facts);
    }
  } else {
    return undefined;
  }
  return out;
}

/** The configMaps and secrets a pod's volumes and environment read, so they can be fetched before a sync. */
export function referencedObjects(spec: PodSpec): { configMaps: Set<string>; secrets: Set<string> } {
  const configMaps = new Set<string>();
  const secrets = new Set<string>();
  for (const v of spec.volumes ?? []) {
    if (v.configMap?.name) configMaps.add(v.configMap.name);
    if (v.secret?.secretName) secrets.add(v.secret.secretName);
    for (const s of v.projected?.sources ?? []) {
      if (s.configMap?.name) configMaps.add(s.configMap.name);
      if (s.secret?.name) secrets.add(s.secret.name);
    }
  }
  for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
    for (const e of c.env ?? []) {
      if (e.valueFrom?.configMapKeyRef?.name) configMaps.add(e.valueFrom.configMapKeyRef.name);
      if (e.valueFrom?.secretKeyRef?.name) secrets.add(e.valueFrom.secretKeyRef.name);
    }
    for (const f of c.envFrom ?? []) {
      if (f.configMapRef?.name) configMaps.add(f.configMapRef.name);
      if (f.secretRef?.name) secrets.add(f.secretRef.name);
    }
  }
  for (const s of spec.imagePullSecrets ?? []) if (s.name) secrets.add(s.name);
  return { configMaps, secrets };
}
