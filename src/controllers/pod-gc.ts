/**
 * The pod garbage collector, the part of kube's that deletes orphans: a terminating pod bound to a node that no
 * longer exists has no node agent to confirm its end, so it is deleted with gracePeriodSeconds=0. A pod is looked at
 * when it changes and when a node is deleted; before deleting, the node's absence is confirmed with a GET, so a node
 * the informer has not seen yet is never taken for a missing one.
 */
import { isSandpodError } from '../errors.js';
import type { Logger } from '../log.js';
import { Informer, isRecord, type KubeApi, type KubeObject } from '../kube/index.js';
import { QueueController } from './controller.js';

const nodeOf = (pod: KubeObject): string => {
  const n = isRecord(pod['spec']) ? pod['spec']['nodeName'] : undefined;
  return typeof n === 'string' ? n : '';
};

const terminatingOnNode = (pod: KubeObject): boolean => Boolean(pod.metadata.deletionTimestamp) && nodeOf(pod) !== '';

const keyOf = (pod: KubeObject): string => `${pod.metadata.namespace ?? ''}/${pod.metadata.name ?? ''}`;

export class PodGarbageCollector extends QueueController {
  readonly name = 'pod-gc';
  private readonly pods: Informer;
  private readonly nodes: Informer;

  constructor(private readonly api: KubeApi, private readonly opts: { log: Logger }) {
    super(opts.log, 'pod garbage collection failed');
    this.nodes = new Informer(api, '/api/v1/nodes', (e) => {
      if (e.type !== 'DELETED') return;
      for (const pod of this.pods.cache.values()) if (nodeOf(pod) === e.object.metadata.name && terminatingOnNode(pod)) this.queue.add(keyOf(pod));
    });
    this.pods = new Informer(api, '/api/v1/pods', (e) => {
      if (e.type !== 'DELETED' && terminatingOnNode(e.object) && !this.nodes.cache.has(`/${nodeOf(e.object)}`)) this.queue.add(keyOf(e.object));
    });
    // Nodes first: a pod is judged against a complete list of them.
    this.watch(this.nodes, this.pods);
  }

  protected async sync(key: string): Promise<undefined> {
    const pod = this.pods.cache.get(key);
    if (!pod || !terminatingOnNode(pod)) return undefined;
    const node = nodeOf(pod);
    if (this.nodes.cache.has(`/${node}`)) return undefined;
    try {
      await this.api.get(`/api/v1/nodes/${node}`);
      return undefined;
    } catch (err) {
      if (!isSandpodError(err, 'NotFound')) throw err;
    }
    try {
      await this.api.delete(`/api/v1/namespaces/${pod.metadata.namespace ?? ''}/pods/${pod.metadata.name ?? ''}`, { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata.uid } });
    } catch (err) {
      // Gone meanwhile, or a new pod of the same name: not ours to collect.
      if (isSandpodError(err, 'NotFound') || isSandpodError(err, 'Conflict')) return undefined;
      throw err;
    }
    this.opts.log.info('collected a terminating pod whose node is gone', { pod: key, node });
    return undefined;
  }
}
