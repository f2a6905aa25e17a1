/** Namespace deletion's shared terms: the API server sets the finalizer, the namespace controller takes it off. */
import { isRecord, type KubeObject } from './object.js';

/** The finalizer the namespace controller takes off once the namespace is empty (kube's FinalizerKubernetes). */
export const NAMESPACE_FINALIZER = 'kubernetes';

/** The namespace's `spec.finalizers`. */
export function namespaceFinalizers(ns: KubeObject): string[] {
  const f = isRecord(ns['spec']) ? ns['spec']['finalizers'] : undefined;
  return Array.isArray(f) ? f.filter((x): x is string => typeof x === 'string') : [];
}
