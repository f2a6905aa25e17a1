/** core/v1 ConfigMap: configuration as text (`data`) and bytes (`binaryData`), optionally frozen by `immutable`. */
import { z } from 'zod';
import { invalidValue, isRecord, type FieldError, type KubeObject } from '../../kube/index.js';
import { bytesMap, checkImmutableUpdate, checkKeys, checkTotalSize, decodedLength, dropNulls, entriesOf, stringMap } from './data-maps.js';
import { ageColumn, checkObjectMeta, nameColumn, objectSchema, type ResourceDef } from './resource.js';

const nullable = ['data', 'binaryData', 'immutable'];

export function validateConfigMap(o: KubeObject, old?: KubeObject): FieldError[] {
  const errs = old ? checkImmutableUpdate(o, old, ['data', 'binaryData']) : [];
  errs.push(...checkObjectMeta(o), ...checkKeys(o['data'], 'data'));
  const binary = isRecord(o['binaryData']) ? o['binaryData'] : {};
  for (const [key] of entriesOf(o['data'])) {
    if (key in binary) errs.push(invalidValue(`data[${key}]`, key, 'duplicate of key present in binaryData'));
  }
  errs.push(...checkKeys(binary, 'binaryData'));
  const size = entriesOf(o['data']).reduce((n, [, v]) => n + Buffer.byteLength(v, 'utf8'), 0)
    + entriesOf(binary).reduce((n, [, v]) => n + decodedLength(v), 0);
  // kube names no field here: the bound concerns the whole object.
  errs.push(...checkTotalSize(size, ''));
  return errs;
}

export const configMaps: ResourceDef = {
  group: '', version: 'v1', kind: 'ConfigMap', plural: 'configmaps', singular: 'configmap', namespaced: true,
  shortNames: ['cm'], categories: [], subresources: [],
  schema: objectSchema({ data: stringMap, binaryData: bytesMap, immutable: z.boolean().nullable().optional() }),
  validate: validateConfigMap,
  columns: [
    nameColumn,
    {
      name: 'Data', type: 'string', priority: 0,
      description: "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation process.",
      cell: (o) => entriesOf(o['data']).length + entriesOf(o['binaryData']).length,
    },
    ageColumn,
  ],
  prepareForCreate: (o) => dropNulls(o, nullable),
  prepareForUpdate: (o) => dropNulls(o, nullable),
  hasStatus: false,
};
