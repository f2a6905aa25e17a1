/**
 * The pod as the node agent acts on it: its spec parsed with the one schema the API server also decodes with
 * (src/kube/pod.ts), and defaulted the same way, so a pod the API accepts is never one the node cannot read.
 */
import { defaultPodSpec, parsePodSpec, type KubeObject, type PodSpec } from '../kube/index.js';

export interface PodInfo {
  namespace: string;
  name: string;
  uid: string;
  spec: PodSpec;
  object: KubeObject;
}

/** Throws Invalid, naming the field, for a spec the schema refuses (only a pod stored around the API can be one). */
export function podInfo(pod: KubeObject): PodInfo {
  const spec = defaultPodSpec(parsePodSpec(pod));
  return { namespace: pod.metadata.namespace ?? 'default', name: pod.metadata.name ?? '', uid: pod.metadata.uid ?? '', spec, object: pod };
}
