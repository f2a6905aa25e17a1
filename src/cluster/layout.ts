/** Where a cluster keeps its files: a durable directory under the state root and a run directory. */
import { join } from 'node:path';
import type { SandpodPaths } from '../paths.js';

export interface ClusterLayout {
  /** Durable: etcd data, PKI, kubeconfigs, logs, the registry's images, the nodes' files. */
  dir: string;
  etcdData: string;
  pki: string;
  /** The administrator's kubeconfig (API server at 127.0.0.1). */
  kubeconfig: string;
  /** The node agents' kubeconfig (API server at the cluster's host address, reachable from the nodes' namespaces). */
  nodeKubeconfig: string;
  logs: string;
  registryDir: string;
  /** One directory per node: containerd, CNI configuration, pod logs and files. */
  nodesDir: string;
  /** The ports chosen for a bare control plane (startApiServer), kept so kubeconfigs stay valid across restarts. */
  portsFile: string;
  /** What runs now: the bare control plane's processes (control-plane.json), the daemon set, the supervisor's status. */
  runDir: string;
  stateFile: string;
}

export function layoutAt(dir: string, runDir: string): ClusterLayout {
  return {
    dir,
    etcdData: join(dir, 'etcd'),
    pki: join(dir, 'pki'),
    kubeconfig: join(dir, 'kubeconfig'),
    nodeKubeconfig: join(dir, 'node.kubeconfig'),
    logs: join(dir, 'logs'),
    registryDir: join(dir, 'registry'),
    nodesDir: join(dir, 'nodes'),
    portsFile: join(dir, 'ports.json'),
    runDir,
    stateFile: join(runDir, 'control-plane.json'),
  };
}

/** The layout of a bare control plane (`up`/`down` in control-plane.ts, for API tests): `<state>/control-planes/<name>`. */
export function clusterLayout(paths: SandpodPaths, name = 'default'): ClusterLayout {
  return layoutAt(join(paths.stateRoot, 'control-planes', name), join(paths.runRoot, 'control-planes', name));
}
