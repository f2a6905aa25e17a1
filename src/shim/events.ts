/**
 * Publishing task events to containerd: Events.Forward over ttrpc to $TTRPC_ADDRESS, in the order they
 * happen (one at a time, retried a few times), so Create < Start < Exit < Delete holds for containerd.
 */
import type { Logger } from '../log.js';
import { TtrpcClient } from '../ttrpc/client.js';
import { encodeMessage, loadProto } from '../ttrpc/proto.js';

const root = loadProto('./task.proto', import.meta.url);
const forwardRequest = root.lookupType('containerd.task.v2.ForwardRequest');

export type TaskEventName = 'TaskCreate' | 'TaskStart' | 'TaskExit' | 'TaskDelete' | 'TaskExecAdded' | 'TaskExecStarted' | 'TaskOOM';
const topics: Record<TaskEventName, string> = {
  TaskCreate: '/tasks/create', TaskStart: '/tasks/start', TaskExit: '/tasks/exit', TaskDelete: '/tasks/delete',
  TaskExecAdded: '/tasks/exec-added', TaskExecStarted: '/tasks/exec-started', TaskOOM: '/tasks/oom',
};

export const timestamp = (ms: number): { seconds: number; nanos: number } => ({ seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 });

export class EventPublisher {
  private client: Promise<TtrpcClient> | undefined;
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly address: string | undefined, private readonly namespace: string, private readonly log: Logger) {}

  publish(name: TaskEventName, event: Record<string, unknown>): Promise<void> {
    const type = root.lookupType(`containerd.task.v2.${name}`);
    const body = encodeMessage(forwardRequest, {
      envelope: { timestamp: timestamp(Date.now()), namespace: this.namespace, topic: topics[name], event: { type_url: `containerd.events.${name}`, value: encodeMessage(type, event) } },
    });
    this.queue = this.queue.then(() => this.send(name, body));
    return this.queue;
  }

  private async send(name: string, body: Uint8Array): Promise<void> {
    if (!this.address) return;
    for (let attempt = 1; attempt <= 5; attempt++) {
      try {
        this.client ??= TtrpcClient.connect(this.address);
        await (await this.client).call('containerd.services.events.ttrpc.v1.Events', 'Forward', body);
        return;
      } catch (err) {
        this.client = undefined;
        this.log.warn('publishing an event failed', { event: name, attempt, err });
        await new Promise((r) => setTimeout(r, 50 * attempt));
      }
    }
  }

  close(): void { void this.client?.then((c) => c.close(), () => undefined); }
}
