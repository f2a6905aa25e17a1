/**
 * The Kubernetes objects that go with `node install` on a real cluster: RuntimeClasses whose handler is the
 * installed one (Sandpod's name and the AKS names, so AKS manifests run unchanged), scheduled onto the nodes
 * AKS labels for VM isolation, with the host cost of a VM pod as their overhead; and the installer
 * DaemonSet that runs `node install` on each of those nodes from Sandpod's installer image, as
 * kata-deploy does for Kata.
 */
import { stringify } from 'yaml';
import { VM_ISOLATION_LABEL, VM_RUNTIME_CLASS_NAMES, vmRuntimeClass } from '../kube/runtime-classes.js';

export const INSTALLER_NAMESPACE = 'sandpod-system';
export const INSTALLER_IMAGE = 'sandpod.local/sandpod-installer';

export interface ManifestOptions {
  handler: string;
  /** The installer image reference (with its tag). */
  image: string;
  /** Arguments for `sandpod node install` on each node. */
  installArgs: string[];
}

type Obj = Record<string, unknown>;

export function runtimeClasses(handler: string): Obj[] {
  return VM_RUNTIME_CLASS_NAMES.map((name) => vmRuntimeClass(name, handler, { 'app.kubernetes.io/part-of': 'sandpod' }) as Obj);
}

/**
 * The installer: a namespace that admits privileged pods, a service account with no API access (the
 * installer changes only its own node) and a DaemonSet on the VM-isolation nodes. Its container enters the
 * node's namespaces (hostPID, privileged) and runs `node install` there with the node's own Node.js.
 */
export function installerObjects(o: ManifestOptions): Obj[] {
  const labels = { 'app.kubernetes.io/name': 'sandpod-installer', 'app.kubernetes.io/part-of': 'sandpod' };
  return [
    {
      apiVersion: 'v1', kind: 'Namespace',
      metadata: { name: INSTALLER_NAMESPACE, labels: { ...labels, 'pod-security.kubernetes.io/enforce': 'privileged' } },
    },
    {
      apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'sandpod-installer', namespace: INSTALLER_NAMESPACE, labels },
      automountServiceAccountToken: false,
    },
    {
      apiVersion: 'apps/v1', kind: 'DaemonSet',
      metadata: { name: 'sandpod-installer', namespace: INSTALLER_NAMESPACE, labels },
      spec: {
        selector: { matchLabels: { 'app.kubernetes.io/name': 'sandpod-installer' } },
        updateStrategy: { type: 'RollingUpdate' },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: 'sandpod-installer',
            automountServiceAccountToken: false,
            hostPID: true,
            nodeSelector: { [VM_ISOLATION_LABEL]: 'true' },
            tolerations: [{ operator: 'Exists' }],
            containers: [{
              name: 'install',
              image: o.image,
              imagePullPolicy: 'IfNotPresent',
              command: ['/sandpod/entrypoint'],
              args: ['--handler', o.handler, ...o.installArgs],
              env: [{ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }],
              securityContext: { privileged: true },
              resources: { requests: { cpu: '10m', memory: '50Mi' }, limits: { memory: '300Mi' } },
              volumeMounts: [{ name: 'host', mountPath: '/host' }],
            }],
            volumes: [{ name: 'host', hostPath: { path: '/', type: 'Directory' } }],
          },
        },
      },
    },
  ];
}

/** All of it as one YAML stream. */
export function manifestsYaml(objects: Obj[]): string {
  return objects.map((o) => stringify(o, { lineWidth: 0 })).join('---\n');
}
