/** How the streaming server finds the CRI objects behind a pod's and a container's names. */

export interface LocatedContainer {
  /** The CRI container id. */
  containerId: string;
  /** Absolute path of the container's CRI log file. */
  logPath: string;
  running: boolean;
}

export interface LocatedPod {
  /** The CRI id of the pod's current sandbox. */
  sandboxId: string;
  /** The sandbox is ready (its network is set up; a VM pod's VM runs). */
  ready: boolean;
  /** The pod's address on the pod network, once it has one. */
  podIP: string | undefined;
  /** The CRI runtime handler the sandbox runs under ('' for the runtime's default). */
  runtimeHandler: string;
}

/**
 * Resolves names to CRI objects. The node agent implements it from its pod workers. `locate` answers a pod's
 * container; with `previous`, the instance before the current one (the last one that terminated), as
 * `kubectl logs -p` means. `locatePod` answers the pod's current sandbox (port-forward). Both answer undefined
 * when the node knows no such object.
 */
export interface ContainerLocator {
  locate(namespace: string, pod: string, container: string, opts: { previous: boolean }): Promise<LocatedContainer | undefined>;
  locatePod(namespace: string, pod: string): Promise<LocatedPod | undefined>;
}
