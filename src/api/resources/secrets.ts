/**
 * core/v1 Secret: bytes in `data` (base64 on the wire), the write-only `stringData` folded into `data` on every
 * write, a `type` (default Opaque, fixed once created) whose standard values require certain keys, and `immutable`.
 * Nothing here may put a secret value into a message: errors name keys and sizes only.
 */
import { z } from 'zod';
import { invalidValue, isRecord, required, type FieldError, type KubeObject } from '../../kube/index.js';
import { bytesMap, checkImmutableUpdate, checkKeys, checkTotalSize, decodedLength, dropNulls, entriesOf, stringMap } from './data-maps.js';
import { ageColumn, at, checkObjectMeta, nameColumn, objectSchema, selectable, str, type ResourceDef } from './resource.js';

/** The annotation naming the ServiceAccount a `kubernetes.io/service-account-token` Secret belongs to. */
export const serviceAccountNameAnnotation = 'kubernetes.io/service-account.name';

/**
 * Kube's defaulting and conversion, run on every create, update and patch: `stringData` entries overwrite `data`
 * entries of the same key (base64-encoded) and are never stored; an empty type means Opaque.
 */
export function normalizeSecret(o: KubeObject): void {
  dropNulls(o, ['data', 'stringData', 'immutable', 'type']);
  const plain = entriesOf(o['stringData']);
  if (plain.length > 0) {
    const encoded = plain.map(([k, v]) => [k, Buffer.from(v, 'utf8').toString('base64')]);
    o['data'] = { ...(isRecord(o['data']) ? o['data'] : {}), ...Object.fromEntries(encoded) };
  }
  delete o['stringData'];
  if (typeof o['type'] !== 'string' || o['type'] === '') o['type'] = 'Opaque';
}

/** A docker config key must hold a JSON object. The message never quotes the content, as kube redacts it. */
function checkDockerConfig(data: Map<string, string>, key: string): FieldError[] {
  const value = data.get(key);
  if (value === undefined) return [required(`data[${key}]`)];
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(value, 'base64').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  return isRecord(parsed) ? [] : [invalidValue(`data[${key}]`, '<secret contents redacted>', 'must be a JSON object')];
}

/** The keys each standard type needs, as kube's ValidateSecret checks them; other types need nothing. */
function checkType(o: KubeObject, data: Map<string, string>): FieldError[] {
  const need = (...keys: string[]): FieldError[] => keys.filter((k) => !data.has(k)).map((k) => required(`data[${k}]`));
  switch (o['type']) {
    case 'kubernetes.io/service-account-token': {
      const sa = o.metadata.annotations?.[serviceAccountNameAnnotation];
      return sa ? [] : [required(`metadata.annotations[${serviceAccountNameAnnotation}]`)];
    }
    case 'kubernetes.io/dockercfg': return checkDockerConfig(data, '.dockercfg');
    case 'kubernetes.io/dockerconfigjson': return checkDockerConfig(data, '.dockerconfigjson');
    // Either may be empty, but one of them must be there.
    case 'kubernetes.io/basic-auth': return data.has('username') || data.has('password') ? [] : need('username', 'password');
    case 'kubernetes.io/ssh-auth': return decodedLength(data.get('ssh-privatekey') ?? '') > 0 ? [] : [required('data[ssh-privatekey]')];
    case 'kubernetes.io/tls': return need('tls.crt', 'tls.key');
    default: return [];
  }
}

export function validateSecret(o: KubeObject, old?: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  if (old) {
    if (o['type'] !== old['type']) errs.push(invalidValue('type', o['type'], 'field is immutable'));
    errs.push(...checkImmutableUpdate(o, old, ['data']));
  }
  const data = new Map(entriesOf(o['data']));
  errs.push(...checkObjectMeta(o), ...checkKeys(o['data'], 'data'));
  errs.push(...checkTotalSize([...data.values()].reduce((n, v) => n + decodedLength(v), 0), 'data'));
  errs.push(...checkType(o, data));
  return errs;
}

export const secrets: ResourceDef = {
  group: '', version: 'v1', kind: 'Secret', plural: 'secrets', singular: 'secret', namespaced: true,
  shortNames: [], categories: [], subresources: [],
  schema: objectSchema({ data: bytesMap, stringData: stringMap, type: z.string().nullable().optional(), immutable: z.boolean().nullable().optional() }),
  validate: validateSecret,
  columns: [
    nameColumn,
    { name: 'Type', type: 'string', priority: 0, description: 'Used to facilitate programmatic handling of secret data. More info: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types', cell: (o) => str(at(o, 'type')) },
    {
      name: 'Data', type: 'string', priority: 0,
      description: "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4",
      cell: (o) => entriesOf(o['data']).length,
    },
    ageColumn,
  ],
  fields: (o) => selectable(o, ['type']),
  prepareForCreate: normalizeSecret,
  prepareForUpdate: normalizeSecret,
  hasStatus: false,
};
