/**
 * The resource registry: generic storage for every served resource on the etcd store, with Kubernetes semantics
 * (defaults, validation, the status subresource, optimistic concurrency, lists that page, deletion in two steps
 * where the resource asks for it). What differs between resources is in their strategies (resources/<kind>.ts:
 * prepareForCreate/Update/Delete, admit, afterCreate/afterDelete, removeWhenUpdated, a subresource's merge), never
 * here. Transport-free: the HTTP adapter turns requests into calls here and errors into Status objects.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { isSandpodError } from '../errors.js';
import {
  isRecord, kubeTime, matchesFields, required, matchesLabels, parseFieldSelector, parseLabelSelector, ValidationError,
  type FieldRequirement, type KubeList, type KubeObject, type LabelRequirement,
} from '../kube/index.js';
import { applyConfiguration, recordApply } from './apply.js';
import { asResourceObject, checkFields, type FieldValidation } from './decode.js';
import { applyJsonPatch, mergePatch, strategicMerge, type PatchType } from './patch.js';
import { findResource, storedResources } from './resources/index.js';
import { allItems, decodeContinue, encodeContinue, readPage, type ListOptions } from './paging.js';
import { apiVersionOf, type DeleteOptions, type HookContext, type ResourceDef } from './resources/resource.js';
import { namespaces } from './resources/namespaces.js';
import { bindPod, pods } from './resources/pods.js';
import { alreadyExistsError, badRequest, conflictError, ContinueExpiredError, forbiddenError, noSuchPath, notFoundError } from './status.js';
import { ReadCompactedError, type EtcdStore, type WriteResult } from './store.js';
import type { WatchCache } from './watch-cache.js';

export interface Scope {
  def: ResourceDef;
  namespace?: string;
}

export interface WriteOptions {
  fieldValidation: FieldValidation;
  dryRun: boolean;
}

export interface Written {
  object: KubeObject;
  warnings: string[];
}

export interface PatchRequest {
  type: PatchType;
  body: unknown;
  /** Who applies (server-side apply needs it). */
  fieldManager: string;
}

export type { DeleteOptions } from './resources/resource.js';

export interface Selectors {
  labels: LabelRequirement[];
  fields: FieldRequirement[];
}

const builtinFields = ['metadata.name', 'metadata.namespace'];

/** Parses labelSelector and fieldSelector, rejecting field labels the resource cannot select on. */
export function parseSelectors(def: ResourceDef, query: URLSearchParams): Selectors {
  let labels: LabelRequirement[];
  let fields: FieldRequirement[];
  try {
    labels = parseLabelSelector(query.get('labelSelector') ?? '');
    fields = parseFieldSelector(query.get('fieldSelector') ?? '');
  } catch (err) {
    throw badRequest((err as Error).message);
  }
  const sample = def.fields ? Object.keys(def.fields({ apiVersion: '', kind: '', metadata: {} })) : [];
  for (const f of fields) {
    if (!builtinFields.includes(f.field) && !sample.includes(f.field)) throw badRequest(`field label not supported: ${f.field}`);
  }
  return { labels, fields };
}

export function selectableFields(def: ResourceDef, obj: KubeObject): Record<string, string> {
  return { 'metadata.name': obj.metadata.name ?? '', 'metadata.namespace': obj.metadata.namespace ?? '', ...(def.fields?.(obj) ?? {}) };
}

export function matches(def: ResourceDef, sel: Selectors, obj: KubeObject): boolean {
  return matchesLabels(sel.labels, obj.metadata.labels) && matchesFields(sel.fields, selectableFields(def, obj));
}

export function storageKey(def: ResourceDef, namespace: string | undefined, name: string): string {
  return `${storagePrefix(def, namespace)}${name}`;
}

export function storagePrefix(def: ResourceDef, namespace?: string): string {
  const base = `/registry/${def.group || 'core'}/${def.plural}/`;
  return def.namespaced && namespace ? `${base}${namespace}/` : base;
}

const withoutVersion = (o: KubeObject): string => JSON.stringify({ ...o, metadata: { ...o.metadata, resourceVersion: undefined } });


export class Registry implements HookContext {
  /** Lists are served by the watch cache (kube's watch cache), pages and exact revisions by etcd. */
  constructor(private readonly store: EtcdStore, private readonly cache: WatchCache, private readonly now: () => Date = () => new Date()) {}

  async get(scope: Scope, name: string): Promise<KubeObject> {
    const obj = await this.store.get(storageKey(scope.def, scope.namespace, name));
    if (!obj) throw notFoundError(scope.def, name);
    return obj;
  }

  async tryGet(scope: Scope, name: string): Promise<KubeObject | undefined> {
    return this.store.get(storageKey(scope.def, scope.namespace, name));
  }

  find(def: ResourceDef, name: string, namespace?: string): Promise<KubeObject | undefined> {
    return this.tryGet(def.namespaced ? { def, namespace: namespace ?? '' } : { def }, name);
  }

  async listAll(def: ResourceDef, namespace?: string): Promise<KubeObject[]> {
    return (await this.cache.listAtLeast(storagePrefix(def, namespace), 0)).items;
  }

  /**
   * A list as kube-apiserver serves it: from the watch cache when no page is asked for (consistent with etcd when
   * resourceVersion is unset, as the cache holds it for "0", not older than N otherwise); one page read from etcd
   * with `limit` or `continue` (at the revision of the first page), or for resourceVersionMatch=Exact.
   */
  async list(scope: Scope, sel: Selectors, opts: ListOptions = allItems): Promise<KubeList> {
    const { def } = scope;
    const prefix = storagePrefix(def, scope.namespace);
    const keep = (o: KubeObject): boolean => matches(def, sel, o);
    const envelope = (items: KubeObject[], metadata: KubeList['metadata']): KubeList => ({ apiVersion: apiVersionOf(def), kind: `${def.kind}List`, metadata, items });
    const pageOpts = { limit: opts.limit > 0 ? opts.limit : Number.MAX_SAFE_INTEGER, keep, filtered: sel.labels.length + sel.fields.length > 0 };
    const rv = opts.resourceVersion;
    let page;
    if (opts.continueToken !== '') {
      const token = decodeContinue(opts.continueToken, prefix);
      try {
        page = await readPage(this.store, prefix, token.key, { ...pageOpts, ...(token.revision > 0 ? { revision: token.revision } : {}) });
      } catch (err) {
        if (err instanceof ReadCompactedError) throw new ContinueExpiredError(encodeContinue(token.key, prefix, -1));
        throw err;
      }
    } else if (opts.resourceVersionMatch === 'Exact' || (opts.limit > 0 && rv !== '0')) {
      // kube reads a limited list with a resourceVersion (and no match) at exactly that revision, as Exact does.
      const exact = rv !== '' && opts.resourceVersionMatch !== 'NotOlderThan';
      page = await readPage(this.store, prefix, prefix, { ...pageOpts, ...(exact ? { revision: Number(rv) } : {}) });
      if (rv !== '' && !exact && page.revision < Number(rv)) {
        page = { ...page, items: (await this.cache.listAtLeast(prefix, Number(rv))).items.filter(keep) };
      }
    } else {
      const { items, revision } = rv === '' ? await this.cache.list(prefix) : await this.cache.listAtLeast(prefix, Number(rv));
      return envelope(items.filter(keep), { resourceVersion: String(revision) });
    }
    return envelope(page.items, {
      resourceVersion: String(page.revision),
      ...(page.continueToken !== undefined ? { continue: page.continueToken } : {}),
      ...(page.remainingItemCount !== undefined ? { remainingItemCount: page.remainingItemCount } : {}),
    });
  }

  private async checkNamespace(scope: Scope): Promise<void> {
    if (!scope.def.namespaced) return;
    const ns = await this.store.get(storageKey(namespaces, undefined, scope.namespace ?? ''));
    if (!ns) throw notFoundError(namespaces, scope.namespace ?? '');
    if (ns.metadata.deletionTimestamp) {
      throw forbiddenError(scope.def, '', `unable to create new content in namespace ${scope.namespace ?? ''} because it is being terminated`);
    }
  }

  private validateOrThrow(def: ResourceDef, obj: KubeObject, old?: KubeObject): void {
    const errs = def.validate(obj, old);
    if (errs.length > 0) throw new ValidationError(def.kind, obj.metadata.name ?? '', errs);
  }

  /** Creates an object: defaults, admission, validation, then a create-if-absent in etcd. */
  async create(scope: Scope, input: KubeObject, opts: WriteOptions): Promise<Written> {
    const { def } = scope;
    const obj = structuredClone(input);
    const warnings = checkFields(def, obj, opts.fieldValidation);
    if (def.review) return { object: def.review(obj), warnings };
    if (def.namespaced) {
      if (obj.metadata.namespace && obj.metadata.namespace !== scope.namespace) {
        throw badRequest(`the namespace of the provided object (${obj.metadata.namespace}) does not match the namespace sent on the request (${scope.namespace ?? ''})`);
      }
      obj.metadata.namespace = scope.namespace;
    } else delete obj.metadata.namespace;
    if (!obj.metadata.name && obj.metadata.generateName) obj.metadata.name = `${obj.metadata.generateName}${randomBytes(4).toString('hex').slice(0, 5)}`;
    if (!obj.metadata.name) throw new ValidationError(def.kind, '', [{ ...required('metadata.name'), detail: 'Required value: name or generateName is required' }]);
    await this.checkNamespace(scope);
    obj.metadata.uid = randomUUID();
    obj.metadata.creationTimestamp = kubeTime(this.now());
    delete obj.metadata.resourceVersion;
    delete obj.metadata.deletionTimestamp;
    delete obj.metadata.deletionGracePeriodSeconds;
    def.prepareForCreate?.(obj);
    if (def.admit) warnings.push(...(await def.admit(obj, this)));
    this.validateOrThrow(def, obj);
    if (opts.dryRun) return { object: obj, warnings };
    const res = await this.store.create(storageKey(def, scope.namespace, obj.metadata.name), obj, def.ttlSeconds);
    if (!res.ok) throw alreadyExistsError(def, obj.metadata.name);
    await def.afterCreate?.(res.object, this);
    return { object: res.object, warnings };
  }

  /**
   * Replaces an object. `subresource` "status" takes only the status from `input`; a main update keeps the stored
   * status. A resourceVersion in `input` must match the stored one.
   */
  async update(scope: Scope, name: string, input: KubeObject, opts: WriteOptions, subresource?: string): Promise<Written> {
    const { def } = scope;
    const current = await this.get(scope, name);
    const obj = structuredClone(input);
    const warnings = checkFields(def, obj, opts.fieldValidation);
    if (obj.metadata.name !== undefined && obj.metadata.name !== name) {
      throw badRequest(`the name of the object (${obj.metadata.name}) does not match the name on the URL (${name})`);
    }
    const rv = obj.metadata.resourceVersion;
    if (rv !== undefined && rv !== '' && rv !== current.metadata.resourceVersion) throw conflictError(def, name);
    const next = this.mergeForUpdate(def, current, obj, subresource);
    return { object: await this.commit(scope, current, next, opts), warnings };
  }

  /**
   * The object an update writes: identity and deletion marks from `current`; its status from `current` on a main
   * update, everything but the status from `current` on a status update; a binding writes both (spec.nodeName and
   * the PodScheduled condition in one write).
   */
  private mergeForUpdate(def: ResourceDef, current: KubeObject, obj: KubeObject, subresource?: string): KubeObject {
    if (subresource === 'status') return { ...structuredClone(current), status: obj['status'] };
    const merge = def.subresources.find((s) => s.name === subresource)?.merge;
    if (merge) return merge(structuredClone(current), obj);
    const next: KubeObject = {
      ...obj,
      metadata: {
        ...obj.metadata,
        name: current.metadata.name,
        uid: current.metadata.uid,
        creationTimestamp: current.metadata.creationTimestamp,
        resourceVersion: current.metadata.resourceVersion,
      },
    };
    if (current.metadata.namespace !== undefined) next.metadata.namespace = current.metadata.namespace;
    delete next.metadata.deletionTimestamp;
    delete next.metadata.deletionGracePeriodSeconds;
    if (current.metadata.deletionTimestamp !== undefined) next.metadata.deletionTimestamp = current.metadata.deletionTimestamp;
    if (current.metadata.deletionGracePeriodSeconds !== undefined) next.metadata.deletionGracePeriodSeconds = current.metadata.deletionGracePeriodSeconds;
    if (def.hasStatus && subresource !== 'binding') next['status'] = current['status'];
    def.prepareForUpdate?.(next, current);
    return next;
  }

  /**
   * Validates and compare-and-swaps `next` over `current`; an unchanged object is not written, and one its strategy
   * says an update finishes (removeWhenUpdated) is removed instead.
   */
  private async commit(scope: Scope, current: KubeObject, next: KubeObject, opts: WriteOptions, subresource?: string): Promise<KubeObject> {
    const { def } = scope;
    const name = current.metadata.name ?? '';
    // A binding is the one write allowed to set a pod's nodeName, so the update rules do not apply to it.
    this.validateOrThrow(def, next, subresource === 'binding' ? undefined : current);
    if (opts.dryRun) return next;
    if (def.removeWhenUpdated?.(next)) {
      const res = await this.store.delete(storageKey(def, scope.namespace, name), Number(current.metadata.resourceVersion));
      await def.afterDelete?.(this.written(def, name, res), this);
      return next;
    }
    if (withoutVersion(next) === withoutVersion(current)) return next;
    const res = await this.store.update(storageKey(def, scope.namespace, name), next, Number(current.metadata.resourceVersion), def.ttlSeconds);
    return this.written(def, name, res);
  }

  private written(def: ResourceDef, name: string, res: WriteResult): KubeObject {
    if (res.ok) return res.object;
    if (res.reason === 'missing') throw notFoundError(def, name);
    throw conflictError(def, name);
  }

  /**
   * Applies `mutate` to the current object and writes the result, retrying when someone else wrote in between
   * (unless the mutation pinned a resourceVersion, which makes a conflict final).
   */
  async mutate(scope: Scope, name: string, opts: WriteOptions, subresource: string | undefined, mutate: (current: KubeObject) => KubeObject): Promise<Written> {
    for (let attempt = 0; ; attempt++) {
      const current = await this.get(scope, name);
      const patched = mutate(structuredClone(current));
      if (!isRecord(patched) || !isRecord(patched['metadata'])) throw badRequest(`the patched ${scope.def.kind} is not an object`);
      const pinned = patched.metadata.resourceVersion !== current.metadata.resourceVersion;
      if (pinned && patched.metadata.resourceVersion !== undefined) throw conflictError(scope.def, name);
      if ((patched.apiVersion ?? current.apiVersion) !== current.apiVersion || (patched.kind ?? current.kind) !== current.kind) {
        throw badRequest(`the patch changes ${current.apiVersion}, Kind=${current.kind} into ${String(patched.apiVersion)}, Kind=${String(patched.kind)}; a patch may not change an object's apiVersion or kind`);
      }
      patched.metadata.resourceVersion = current.metadata.resourceVersion;
      patched.apiVersion = current.apiVersion;
      patched.kind = current.kind;
      const warnings = checkFields(scope.def, patched, opts.fieldValidation);
      const next = this.mergeForUpdate(scope.def, current, patched, subresource);
      try {
        return { object: await this.commit(scope, current, next, opts, subresource), warnings };
      } catch (err) {
        if (!(attempt < 5 && isSandpodError(err, 'Conflict'))) throw err;
      }
    }
  }

  /**
   * Applies a PATCH of any flavour. A server-side apply to a missing object creates it (`created` is then true);
   * the other flavours need the object to exist.
   */
  async patch(scope: Scope, name: string, patch: PatchRequest, opts: WriteOptions, subresource?: string): Promise<Written & { created: boolean }> {
    const { type, body, fieldManager } = patch;
    if (type !== 'json' && !isRecord(body)) throw badRequest('a merge patch must be a JSON object');
    const now = kubeTime(this.now());
    if (type === 'apply') {
      if (!fieldManager) throw badRequest('PATCH with application/apply-patch+yaml requires the fieldManager parameter');
      // The applied configuration is an object of this kind, with its metadata an object, whether it creates or updates.
      const obj = asResourceObject(scope.def, body);
      if (!subresource && !(await this.tryGet(scope, name))) {
        const created = await this.create(scope, recordApply({ ...obj, metadata: { ...obj.metadata, name } }, fieldManager, body, now), opts);
        return { ...created, created: true };
      }
    }
    const apply = (current: KubeObject): KubeObject => {
      switch (type) {
        case 'merge': return mergePatch(current, body) as KubeObject;
        case 'json': return applyJsonPatch(current, body) as KubeObject;
        case 'strategic': return strategicMerge(current, body) as KubeObject;
        case 'apply': return applyConfiguration(current, body as Record<string, unknown>, fieldManager, now);
      }
    };
    return { ...(await this.mutate(scope, name, opts, subresource, apply)), created: false };
  }

  /** Deletes an object, or marks it for deletion when its strategy says so (prepareForDelete). */
  async delete(scope: Scope, name: string, options: DeleteOptions): Promise<{ object: KubeObject; gone: boolean }> {
    const { def } = scope;
    for (let attempt = 0; ; attempt++) {
      const current = await this.get(scope, name);
      const pre = options.preconditions;
      if (pre?.uid && pre.uid !== current.metadata.uid) throw conflictError(def, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${current.metadata.uid ?? ''}`);
      if (pre?.resourceVersion && pre.resourceVersion !== current.metadata.resourceVersion) {
        throw conflictError(def, name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${current.metadata.resourceVersion ?? ''}`);
      }
      const marked = def.prepareForDelete?.(current, options, this.now());
      let res: WriteResult;
      if (marked) {
        if (withoutVersion(marked) === withoutVersion(current)) return { object: current, gone: false };
        res = await this.store.update(storageKey(def, scope.namespace, name), marked, Number(current.metadata.resourceVersion), def.ttlSeconds);
      } else {
        res = await this.store.delete(storageKey(def, scope.namespace, name), Number(current.metadata.resourceVersion));
      }
      if (res.ok && !marked) await def.afterDelete?.(res.object, this);
      if (res.ok) return { object: res.object, gone: !marked };
      if (res.reason === 'missing') throw notFoundError(def, name);
      if (attempt >= 5) throw conflictError(def, name);
    }
  }

  /** Assigns a pod to a node (pods/binding): one write of the node name and the PodScheduled condition. */
  async bind(namespace: string, podName: string, nodeName: string): Promise<void> {
    if (!nodeName) throw new ValidationError('Binding', podName, [required('target.name')]);
    await this.mutate({ def: pods, namespace }, podName, { fieldValidation: 'Ignore', dryRun: false }, 'binding', (pod) => bindPod(pod, nodeName, this.now()));
  }

  /**
   * Creates the objects when missing: those every cluster has (system namespaces, default RuntimeClasses) and those
   * hooks keep (a namespace's default ServiceAccount). Like kube's controllers, nothing goes into a namespace that is
   * missing or terminating.
   */
  async ensure(def: ResourceDef, objects: KubeObject[], namespace?: string): Promise<void> {
    const scope: Scope = def.namespaced ? { def, namespace: namespace ?? '' } : { def };
    if (def.namespaced) {
      const ns = await this.tryGet({ def: namespaces }, namespace ?? '');
      if (!ns || ns.metadata.deletionTimestamp) return;
    }
    for (const obj of objects) {
      if (await this.tryGet(scope, obj.metadata.name ?? '')) continue;
      try {
        await this.create(scope, obj, { fieldValidation: 'Strict', dryRun: false });
      } catch (err) {
        if (!isSandpodError(err, 'AlreadyExists')) throw err;
      }
    }
  }

  /** Runs every afterCreate hook on every stored object of its resource (at start: see ResourceDef.afterCreate). */
  async replayAfterCreate(): Promise<void> {
    for (const def of storedResources) {
      if (!def.afterCreate) continue;
      for (const obj of (await this.store.list(storagePrefix(def))).items) await def.afterCreate(obj, this);
    }
  }

  resource(group: string, version: string, plural: string): ResourceDef {
    const def = findResource(group, version, plural);
    if (!def) throw noSuchPath(`${plural}${group ? `.${group}` : ''}`);
    return def;
  }
}
