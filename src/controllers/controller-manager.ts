/**
 * The controller manager: one process (a daemon of the cluster) that runs kube-controller-manager's controllers Sandpod
 * has, each a client of the API with its own informers. It starts them all, or none: a controller that cannot fill
 * its caches (the API server not answering yet) fails the start, and the supervisor starts the process again.
 */
import { createLogger, type Logger } from '../log.js';
import type { KubeApi } from '../kube/index.js';
import type { Controller } from './controller.js';
import { NamespaceController } from './namespace.js';
import { NodeLifecycleController } from './node-lifecycle.js';
import { PodGarbageCollector } from './pod-gc.js';

export interface ControllerManagerOptions {
  logger?: Logger;
  /** How long a node's Lease may go unrenewed before the node is marked Ready=Unknown (default 40 s). */
  nodeMonitorGraceMs?: number;
  /** How soon a terminating namespace whose objects are still going is looked at again (default 1 s). */
  namespaceRecheckMs?: number;
}

export class ControllerManager {
  private readonly controllers: readonly Controller[];
  private readonly log: Logger;

  constructor(api: KubeApi, opts: ControllerManagerOptions = {}) {
    this.log = opts.logger ?? createLogger('controller-manager');
    const log = (name: string): Logger => this.log.child({ controller: name });
    this.controllers = [
      new NamespaceController(api, { log: log('namespace'), ...(opts.namespaceRecheckMs !== undefined ? { recheckMs: opts.namespaceRecheckMs } : {}) }),
      new PodGarbageCollector(api, { log: log('pod-gc') }),
      new NodeLifecycleController(api, { log: log('node-lifecycle'), ...(opts.nodeMonitorGraceMs !== undefined ? { graceMs: opts.nodeMonitorGraceMs } : {}) }),
    ];
  }

  async start(): Promise<void> {
    try {
      for (const c of this.controllers) await c.start();
    } catch (err) {
      this.stop();
      throw err;
    }
    this.log.info('started', { controllers: this.controllers.map((c) => c.name) });
  }

  stop(): void {
    for (const c of this.controllers) c.stop();
  }
}
