/** How the streaming server finds the CRI container behind a (namespace, pod, container) name. */

export interface LocatedContainer {
  /** The CRI container id. */
  containerId: string;
  /** Absolute path of the container's CRI log file. */
  logPath: string;
  running: boolean;
}

/**
 * Resolves a pod's container to its CRI container. The node agent implements it from its pod workers; with
 * `previous`, the instance before the current one (the last one that terminated), as `kubectl logs -p` means.
 * Answers undefined when the node knows no such container.
 */
export interface ContainerLocator {
  locate(namespace: string, pod: string, container: string, opts: { previous: boolean }): Promise<LocatedContainer | undefined>;
}
