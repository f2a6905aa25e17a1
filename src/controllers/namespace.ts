/**
 * The namespace controller, as kube-controller-manager's: a namespace that is Terminating and still carries the
 * finalizer `kubernetes` is emptied through the API — every namespaced resource discovery lists is listed and each
 * object deleted — and once nothing is left, the finalizer is taken off through `namespaces/{name}/finalize`, after
 * which the API server removes the namespace. While objects remain (pods stopping on their nodes), the namespace is
 * looked at again after `recheckMs`.
 */
import { isSandpodError } from '../errors.js';
import type { Logger } from '../log.js';
import { Informer, isRecord, NAMESPACE_FINALIZER, namespaceFinalizers, type KubeApi, type KubeObject } from '../kube/index.js';
import { QueueController } from './controller.js';
import { namespacedResources } from './discovery.js';

const ours = (ns: KubeObject): boolean => Boolean(ns.metadata.deletionTimestamp) && namespaceFinalizers(ns).includes(NAMESPACE_FINALIZER);

export interface NamespaceControllerOptions {
  log: Logger;
  /** How soon a namespace whose objects are still going is looked at again. */
  recheckMs?: number;
}

/**
 * Deletes what the namespace holds; answers how many objects are left (those already being deleted, and those a
 * delete only marked).
 */
export async function deleteNamespaceContent(api: Pick<KubeApi, 'call' | 'list' | 'delete'>, namespace: string): Promise<number> {
  let remaining = 0;
  for (const r of await namespacedResources(api)) {
    const { items } = await api.list(`${r.groupVersion}/namespaces/${namespace}/${r.plural}`);
    for (const obj of items) {
      if (obj.metadata.deletionTimestamp) {
        remaining++;
        continue;
      }
      const name = obj.metadata.name ?? '';
      try {
        const answer = await api.delete(`${r.groupVersion}/namespaces/${namespace}/${r.plural}/${name}`, { preconditions: { uid: obj.metadata.uid } });
        if (answer.metadata?.deletionTimestamp) remaining++;
      } catch (err) {
        // Gone already, or replaced by a new object of the same name (looked at on the next pass).
        if (isSandpodError(err, 'NotFound')) continue;
        if (isSandpodError(err, 'Conflict')) remaining++;
        else throw err;
      }
    }
  }
  return remaining;
}

export class NamespaceController extends QueueController {
  readonly name = 'namespace';
  private readonly namespaces: Informer;

  constructor(private readonly api: KubeApi, private readonly opts: NamespaceControllerOptions) {
    super(opts.log, 'namespace sync failed');
    this.namespaces = new Informer(api, '/api/v1/namespaces', (e) => {
      if (e.type !== 'DELETED' && ours(e.object)) this.queue.add(e.object.metadata.name ?? '');
    });
    this.watch(this.namespaces);
  }

  protected async sync(name: string): Promise<number | undefined> {
    const cached = this.namespaces.cache.get(`/${name}`);
    if (!cached || !ours(cached)) return undefined;
    const remaining = await deleteNamespaceContent(this.api, name);
    if (remaining > 0) return this.opts.recheckMs ?? 1000;
    try {
      // The namespace as stored now, so the finalize carries its current resourceVersion (a Conflict is retried).
      const ns = await this.api.get(`/api/v1/namespaces/${name}`);
      if (!ours(ns)) return undefined;
      await this.api.update(`/api/v1/namespaces/${name}/finalize`, {
        ...ns, spec: { ...(isRecord(ns['spec']) ? ns['spec'] : {}), finalizers: namespaceFinalizers(ns).filter((f) => f !== NAMESPACE_FINALIZER) },
      });
    } catch (err) {
      if (isSandpodError(err, 'NotFound')) return undefined;
      throw err;
    }
    this.opts.log.info('namespace emptied and finalized', { namespace: name });
    return undefined;
  }
}
