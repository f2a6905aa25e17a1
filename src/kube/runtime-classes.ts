/**
 * Sandpod's VM RuntimeClasses, one definition for the local cluster's API server and for `sandpod manifests`:
 * Sandpod's own name and the AKS names (so AKS manifests run unchanged), scheduled onto the nodes AKS labels for VM
 * isolation, tolerating their taint, with the host cost of a VM pod as their overhead.
 */
import type { KubeObject } from './object.js';

/** The label AKS puts on a node pool created with `--workload-runtime KataVmIsolation` (and its taint's key). */
export const VM_ISOLATION_LABEL = 'kubernetes.azure.com/kata-vm-isolation';
export const VM_RUNTIME_CLASS_NAMES = ['vm-isolation', 'kata-vm-isolation', 'kata-mshv-vm-isolation'] as const;

/**
 * A VM pod's cost on the host beyond its containers: QEMU (the guest kernel and agent in the memory it has
 * touched) and the shim daemon of an idle pod, measured (docs/install.md: 184Mi PSS, 7m CPU), rounded up.
 * The scheduler adds it to the pod's requests.
 */
export const VM_POD_OVERHEAD = { cpu: '10m', memory: '200Mi' } as const;

export function vmRuntimeClass(name: string, handler: string, labels?: Record<string, string>): KubeObject {
  return {
    apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass',
    metadata: { name, ...(labels ? { labels } : {}) },
    handler,
    overhead: { podFixed: { ...VM_POD_OVERHEAD } },
    scheduling: {
      nodeSelector: { [VM_ISOLATION_LABEL]: 'true' },
      tolerations: [{ key: VM_ISOLATION_LABEL, operator: 'Exists', effect: 'NoSchedule' }],
    },
  };
}
