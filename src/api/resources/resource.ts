/**
 * What every served resource declares: its names for discovery, its schema (the fields it knows, for strict
 * decoding), semantic validation with field paths, its table columns, its selectable fields, how create and
 * update prepare it, and the hooks that keep other objects in step with it (kube's strategy and AfterCreate /
 * AfterDelete). Each resource file under resources/ exports one `ResourceDef`.
 */
import { z } from 'zod';
import { checkDns1123Label, checkDns1123Subdomain, checkLabels, invalidValue, tooLong, type FieldError, type KubeObject } from '../../kube/index.js';

export interface Column {
  name: string;
  type: 'string' | 'integer' | 'date' | 'number';
  format?: 'name';
  description: string;
  /** 1 = shown only with `-o wide`. */
  priority: 0 | 1;
  cell(obj: KubeObject, now: number): string | number;
}

export interface Subresource {
  name: string;
  kind: string;
  verbs: string[];
  /**
   * For a subresource that changes part of the object (a namespace's finalize): the object an update of it stores,
   * from the stored one and the request's. Without it, an update of the subresource is a main update.
   */
  merge?(current: KubeObject, input: KubeObject): KubeObject;
}

export interface ResourceDef {
  group: string;
  version: string;
  kind: string;
  plural: string;
  singular: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  subresources: Subresource[];
  /** The object's known fields. Unknown keys are what `fieldValidation` reports. */
  schema: z.ZodType;
  /** Semantic checks; `old` is set on updates. */
  validate(obj: KubeObject, old?: KubeObject): FieldError[];
  columns: Column[];
  /** Selectable fields beyond metadata.name and metadata.namespace. */
  fields?(obj: KubeObject): Record<string, string>;
  /** Defaults applied on create (status, spec defaults). */
  prepareForCreate?(obj: KubeObject): void;
  /**
   * Defaults and normalisation applied to the new object of every update and patch, before validation; `old` is
   * the stored object (what an update may not change is copied from it).
   */
  prepareForUpdate?(obj: KubeObject, old: KubeObject): void;
  /**
   * Admission on create (what kube's admission plugins do for this resource): may change the object, returns
   * warnings, throws (Forbidden, Invalid) to refuse it.
   */
  admit?(obj: KubeObject, ctx: HookContext): Promise<string[]>;
  /**
   * How a delete of `current` goes: undefined to remove it now, or the object marked for deletion, which stays until
   * someone finishes it (pods bound to a node, namespaces that empty themselves first). Throws to refuse the delete.
   */
  prepareForDelete?(current: KubeObject, options: DeleteOptions, now: Date): KubeObject | undefined;
  /**
   * Whether an update that would store `obj` removes it instead (kube's ShouldDeleteDuringUpdate): a terminating
   * namespace whose last finalizer is gone.
   */
  removeWhenUpdated?(obj: KubeObject): boolean;
  /**
   * Runs after a create stored `obj` (not on dry runs), and again at API server start for every stored object, so
   * work lost to a crash between the write and the hook is done later: it must be idempotent.
   */
  afterCreate?(obj: KubeObject, ctx: HookContext): Promise<void>;
  /** Runs after `obj` left the store (not when it was only marked for graceful deletion). */
  afterDelete?(obj: KubeObject, ctx: HookContext): Promise<void>;
  /** Objects expire this long after creation (events). */
  ttlSeconds?: number;
  /**
   * For review resources (access reviews, whoami): a create computes this answer instead of storing anything,
   * and create is the only verb.
   */
  review?(obj: KubeObject): KubeObject;
  /**
   * For computed resources (metrics.k8s.io): never stored; a ComputedResource registered with the API server
   * answers get and list on request, and every other verb is refused.
   */
  computed?: true;
  /** Whether status is a subresource: main updates keep the stored status, status updates keep everything else. */
  hasStatus: boolean;
}

/**
 * What strategy hooks may do to other objects. The registry implements it with its own operations, so what a hook
 * writes is validated and runs its own hooks like any other write.
 */
export interface HookContext {
  /** Creates those of `objects` that do not exist; in a namespace that is missing or terminating, nothing. */
  ensure(def: ResourceDef, objects: KubeObject[], namespace?: string): Promise<void>;
  /** The object, or undefined when it does not exist. */
  find(def: ResourceDef, name: string, namespace?: string): Promise<KubeObject | undefined>;
  /** Every object of the resource (in `namespace` when given), as the watch cache holds them. */
  listAll(def: ResourceDef, namespace?: string): Promise<KubeObject[]>;
}

/** What a DELETE asks for (kube's DeleteOptions, the parts Sandpod honours). */
export interface DeleteOptions {
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
}

export const storedVerbs = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

export const computedVerbs = ['get', 'list'];

/** The verbs a resource serves. */
export const verbsOf = (def: Pick<ResourceDef, 'review' | 'computed'>): string[] => (def.review ? ['create'] : def.computed ? computedVerbs : storedVerbs);

export const apiVersionOf = (def: Pick<ResourceDef, 'group' | 'version'>): string => (def.group ? `${def.group}/${def.version}` : def.version);

/** `pods` or `runtimeclasses.node.k8s.io`, as kube-apiserver names a resource in messages. */
export const qualifiedResource = (def: Pick<ResourceDef, 'group' | 'plural'>): string => (def.group ? `${def.plural}.${def.group}` : def.plural);

const labelMap = z.record(z.string(), z.string());

/** ObjectMeta: every key kube-apiserver knows, so unknown ones can be reported. */
export const objectMetaSchema = z.strictObject({
  name: z.string().optional(),
  generateName: z.string().optional(),
  namespace: z.string().optional(),
  selfLink: z.string().optional(),
  uid: z.string().optional(),
  resourceVersion: z.string().optional(),
  generation: z.number().int().optional(),
  creationTimestamp: z.string().nullable().optional(),
  deletionTimestamp: z.string().nullable().optional(),
  deletionGracePeriodSeconds: z.number().int().nullable().optional(),
  labels: labelMap.nullable().optional(),
  annotations: labelMap.nullable().optional(),
  ownerReferences: z.array(z.unknown()).nullable().optional(),
  finalizers: z.array(z.string()).nullable().optional(),
  managedFields: z.array(z.unknown()).nullable().optional(),
});

/** The envelope of a top-level object with the given extra fields. */
export function objectSchema(fields: Record<string, z.ZodType>): z.ZodType {
  return z.strictObject({ apiVersion: z.string().optional(), kind: z.string().optional(), metadata: objectMetaSchema, ...fields });
}

/** kube's short human duration ("5s", "3m20s", "4h", "12d"), as in the AGE column. */
export function humanDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < -1) return '<invalid>';
  if (s < 0) return '0s';
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  if (h < 48) return `${h}h`;
  if (h < 24 * 8) return h % 24 === 0 ? `${Math.floor(h / 24)}d` : `${Math.floor(h / 24)}d${h % 24}h`;
  if (h < 24 * 365 * 2) return `${Math.floor(h / 24)}d`;
  const y = Math.floor(h / (24 * 365));
  return y < 8 ? `${y}y${Math.floor((h % (24 * 365)) / 24)}d` : `${y}y`;
}

export function ageOf(timestamp: unknown, now: number): string {
  if (typeof timestamp !== 'string') return '<unknown>';
  return humanDuration(now - Date.parse(timestamp));
}

export const nameColumn: Column = {
  name: 'Name', type: 'string', format: 'name', priority: 0,
  description: 'Name must be unique within a namespace.',
  cell: (o) => o.metadata.name ?? '',
};

export const ageColumn: Column = {
  name: 'Age', type: 'string', priority: 0,
  description: 'CreationTimestamp is a timestamp representing the server time when this object was created.',
  cell: (o, now) => ageOf(o.metadata.creationTimestamp, now),
};

/** Reads a nested field, e.g. `at(obj, 'spec', 'nodeName')`. */
export function at(obj: unknown, ...path: string[]): unknown {
  let cur = obj;
  for (const p of path) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

export const str = (v: unknown, fallback = ''): string => (typeof v === 'string' ? v : fallback);

/** kube's TotalAnnotationSizeLimitB: every annotation key and value together. */
export const maxAnnotationBytes = 256 * 1024;

/**
 * The metadata checks every object gets: its name (a DNS-1123 subdomain, or a label for namespaces), its labels, and
 * the total size of its annotations.
 */
export function checkObjectMeta(o: KubeObject, nameRule: 'subdomain' | 'label' = 'subdomain'): FieldError[] {
  const name = o.metadata.name ?? '';
  const bad = nameRule === 'label' ? checkDns1123Label(name) : checkDns1123Subdomain(name);
  const annotationBytes = Object.entries(o.metadata.annotations ?? {}).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(String(v)), 0);
  return [
    ...(bad ? [invalidValue('metadata.name', name.length > 256 ? `${name.slice(0, 256)}…` : name, bad)] : []),
    ...checkLabels(o.metadata.labels, 'metadata.labels'),
    ...(annotationBytes > maxAnnotationBytes ? [tooLong('metadata.annotations', maxAnnotationBytes)] : []),
  ];
}

/** Selectable fields read from dotted paths, e.g. `selectable(o, ['spec.nodeName'])`. */
export function selectable(o: KubeObject, paths: readonly string[]): Record<string, string> {
  return Object.fromEntries(paths.map((p) => [p, str(at(o, ...p.split('.')))]));
}
