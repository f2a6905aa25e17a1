/** What the controller manager runs, and the shape every controller here shares. */
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Informer } from '../kube/index.js';
import { WorkQueue } from './work-queue.js';

/** A loop that watches the API and writes through it. */
export interface Controller {
  /** How logs name it. */
  readonly name: string;
  /** Fills its informers' caches and starts reacting to changes. */
  start(): Promise<void>;
  stop(): void;
  /** Nothing queued, syncing or waiting to be looked at again (for tests). */
  readonly idle: boolean;
}

/**
 * A controller as client-go builds one: informers whose events add keys to one work queue, and a sync of one key.
 * A sync that throws is logged (naming the key) and retried after a back-off.
 */
export abstract class QueueController implements Controller {
  abstract readonly name: string;
  protected readonly queue: WorkQueue;
  private readonly informers: Informer[] = [];

  constructor(log: Logger, failure: string) {
    this.queue = new WorkQueue((key) => this.sync(key), { onError: (key, err) => log.warn(failure, { object: key, err: describeError(err) }) });
  }

  /** Looks at one key; answers in how many milliseconds to look again, or undefined. */
  protected abstract sync(key: string): Promise<number | undefined>;

  /** The informers to start, in this order: each has a complete cache before the next starts. */
  protected watch(...informers: Informer[]): void {
    this.informers.push(...informers);
  }

  async start(): Promise<void> {
    for (const i of this.informers) await i.start();
  }

  stop(): void {
    this.queue.stop();
    for (const i of this.informers) i.stop();
  }

  get idle(): boolean {
    return this.queue.idle;
  }
}
