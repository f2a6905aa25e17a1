/**
 * List-then-watch with a local cache, like client-go's informers: resumes the watch from the last seen
 * resourceVersion when the stream ends, and lists again after a 410 Expired or a failure.
 */
import type { KubeApi } from './client.js';
import type { KubeObject, WatchEvent } from './object.js';

export type InformerEvent = { type: 'ADDED' | 'MODIFIED' | 'DELETED'; object: KubeObject };

const keyOf = (o: KubeObject): string => `${o.metadata.namespace ?? ''}/${o.metadata.name ?? ''}`;

export class Informer {
  readonly cache = new Map<string, KubeObject>();
  private stopWatch: (() => void) | undefined;
  private stopped = false;
  private resourceVersion = '';
  private retryTimer: NodeJS.Timeout | undefined;
  private retryPending = false;

  constructor(
    private readonly client: Pick<KubeApi, 'list' | 'watch'>,
    private readonly path: string,
    private readonly onChange: (e: InformerEvent) => void,
    private readonly retryMs = 1000,
  ) {}

  /** Lists once (so the cache is complete when this resolves), then keeps watching. */
  async start(): Promise<void> {
    await this.relist();
    await this.watch();
  }

  stop(): void {
    this.stopped = true;
    this.stopWatch?.();
    if (this.retryTimer) clearTimeout(this.retryTimer);
  }

  private async relist(): Promise<void> {
    const list = await this.client.list(this.path);
    const seen = new Set<string>();
    for (const item of list.items) {
      const k = keyOf(item);
      seen.add(k);
      const old = this.cache.get(k);
      this.cache.set(k, item);
      if (!old) this.onChange({ type: 'ADDED', object: item });
      else if (old.metadata.resourceVersion !== item.metadata.resourceVersion) this.onChange({ type: 'MODIFIED', object: item });
    }
    for (const [k, old] of [...this.cache]) {
      if (!seen.has(k)) {
        this.cache.delete(k);
        this.onChange({ type: 'DELETED', object: old });
      }
    }
    this.resourceVersion = list.metadata.resourceVersion;
  }

  private handle(e: WatchEvent): void {
    if (e.type === 'ERROR') {
      this.resourceVersion = '';
      return;
    }
    if (e.object.metadata.resourceVersion) this.resourceVersion = e.object.metadata.resourceVersion;
    if (e.type === 'BOOKMARK') return;
    const k = keyOf(e.object);
    if (e.type === 'DELETED') this.cache.delete(k);
    else this.cache.set(k, e.object);
    this.onChange({ type: e.type, object: e.object });
  }

  private async watch(): Promise<void> {
    if (this.stopped) return;
    try {
      this.stopWatch = await this.client.watch(this.path, { resourceVersion: this.resourceVersion, allowWatchBookmarks: 'true' }, (e) => this.handle(e), () => this.again());
    } catch {
      this.again();
    }
  }

  private again(): void {
    if (this.stopped || this.retryPending) return;
    this.retryPending = true;
    this.retryTimer = setTimeout(() => {
      this.retryPending = false;
      void (async () => {
        try {
          if (this.resourceVersion === '') await this.relist();
          await this.watch();
        } catch {
          this.resourceVersion = '';
          this.again();
        }
      })();
    }, this.retryMs);
  }
}
