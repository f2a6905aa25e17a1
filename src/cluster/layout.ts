/** Where a local cluster keeps its files, under the configurable Sandpod roots. */
import { join } from 'node:path';
import type { SandpodPaths } from '../paths.js';

export interface ClusterLayout {
  /** Durable: etcd data, PKI, kubeconfig, logs. */
  dir: string;
  etcdData: string;
  pki: string;
  kubeconfig: string;
  logs: string;
  /** The ports chosen for this cluster, kept so kubeconfigs stay valid across restarts. */
  portsFile: string;
  /** What is running now (PIDs), in the run root. */
  stateFile: string;
}

export function clusterLayout(paths: SandpodPaths, name = 'default'): ClusterLayout {
  const dir = join(paths.stateRoot, 'clusters', name);
  return {
    dir,
    etcdData: join(dir, 'etcd'),
    pki: join(dir, 'pki'),
    kubeconfig: join(dir, 'kubeconfig'),
    logs: join(dir, 'logs'),
    portsFile: join(dir, 'ports.json'),
    stateFile: join(paths.runRoot, 'clusters', name, 'control-plane.json'),
  };
}
