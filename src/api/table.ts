/** Server-side printing: `as=Table;g=meta.k8s.io;v=v1` answers with kube-apiserver's columns for each resource. */
import type { KubeObject } from '../kube/index.js';
import type { ResourceDef } from './resources/resource.js';

export type IncludeObject = 'None' | 'Metadata' | 'Object';

export interface Table {
  kind: 'Table';
  apiVersion: 'meta.k8s.io/v1';
  metadata: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
  columnDefinitions: Array<{ name: string; type: string; format: string; description: string; priority: number }>;
  rows: Array<{ cells: Array<string | number>; object?: unknown }>;
}

/** True when the Accept header asks for a meta.k8s.io Table. */
export function wantsTable(accept: string | undefined): boolean {
  return (accept ?? '').split(',').some((part) => {
    const params = part.split(';').map((p) => p.trim());
    return params.includes('as=Table') && params.includes('g=meta.k8s.io');
  });
}

/** The Content-Type a Table answer carries (kubectl checks only that it is JSON). */
export const tableContentType = 'application/json;as=Table;v=v1;g=meta.k8s.io';

function rowObject(obj: KubeObject, include: IncludeObject): unknown {
  if (include === 'None') return undefined;
  if (include === 'Object') return obj;
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: obj.metadata };
}

/**
 * A Table of the objects, with the list metadata given (resourceVersion, and a page's continue token and
 * remainingItemCount); `withHeaders: false` leaves the column definitions out (watch events after the first).
 */
export function toTable(def: ResourceDef, objects: KubeObject[], opts: { include: IncludeObject; metadata?: Table['metadata']; withHeaders?: boolean; now?: number }): Table {
  const now = opts.now ?? Date.now();
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: opts.metadata ?? {},
    columnDefinitions: opts.withHeaders === false ? [] : def.columns.map((c) => ({ name: c.name, type: c.type, format: c.format ?? '', description: c.description, priority: c.priority })),
    rows: objects.map((o) => {
      const object = rowObject(o, opts.include);
      return { cells: def.columns.map((c) => c.cell(o, now)), ...(object === undefined ? {} : { object }) };
    }),
  };
}
