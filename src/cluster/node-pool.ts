/**
 * A node pool: nodes of one VM size, workload runtime, OS SKU, mode, labels, taints and pod subnet. Scaling up
 * allocates and starts nodes; scaling down drains the newest nodes (cordon, delete their pods) and removes them;
 * deleting the pool removes all its nodes and everything they ran. The cluster provides the node-level steps.
 */
import { checkPoolDeletion, checkScale, type PoolContext, type Verdict } from './rules.js';
import type { Node } from './node.js';
import type { NodeRecord, PoolRecord, ProvisioningState } from './store.js';

/** What a pool needs of its cluster. */
export interface PoolHost {
  readonly running: boolean;
  poolContext(): PoolContext;
  allPools(): readonly PoolRecord[];
  /** Persists the cluster record after a pool changed. */
  save(): void;
  allocateNodes(pool: PoolRecord, count: number): NodeRecord[];
  nodeOf(pool: PoolRecord, record: NodeRecord): Node;
  /** Starts nodes (network, containerd, agent), waits until they are Ready and hands them to the supervisor. */
  startNodes(nodes: Node[]): Promise<void>;
  /** Drains, stops and forgets nodes, and takes them from the supervisor. */
  removeNodes(nodes: Node[]): Promise<void>;
  removePoolRecord(name: string): void;
  requireRunning(what: string): void;
}

export class NodePool {
  constructor(private readonly host: PoolHost, readonly record: PoolRecord) {}

  get name(): string { return this.record.name; }

  nodes(): Node[] {
    return this.record.nodes.map((n) => this.host.nodeOf(this.record, n));
  }

  private setState(state: ProvisioningState): void {
    this.record.provisioningState = state;
    this.host.save();
  }

  /** Allocates the pool's nodes (count of them) and, when the cluster runs, starts them. */
  async provision(): Promise<void> {
    const fresh = this.host.allocateNodes(this.record, this.record.count - this.record.nodes.length);
    this.record.nodes.push(...fresh);
    this.setState(this.host.running ? 'Creating' : 'Succeeded');
    if (!this.host.running) return;
    await this.run(() => this.host.startNodes(fresh.map((n) => this.host.nodeOf(this.record, n))));
  }

  /** Grows or shrinks the pool to `count` nodes; shrinking drains the newest nodes first. */
  async scale(count: number | undefined): Promise<Verdict<number>> {
    this.host.requireRunning(`scale node pool ${this.name}`);
    const verdict = checkScale(this.record, count, this.host.poolContext());
    const target = verdict.value;
    const current = this.record.nodes.length;
    if (target === current) return verdict;
    this.record.count = target;
    this.setState('Scaling');
    await this.run(async () => {
      if (target > current) {
        const fresh = this.host.allocateNodes(this.record, target - current);
        this.record.nodes.push(...fresh);
        this.host.save();
        await this.host.startNodes(fresh.map((n) => this.host.nodeOf(this.record, n)));
      } else {
        const leaving = [...this.record.nodes].sort((a, b) => b.index - a.index).slice(0, current - target);
        await this.host.removeNodes(leaving.map((n) => this.host.nodeOf(this.record, n)));
        this.record.nodes = this.record.nodes.filter((n) => !leaving.includes(n));
        this.host.save();
      }
    });
    return verdict;
  }

  /** Drains and removes every node of the pool (their pods are deleted, not moved: nothing brings bare pods back), then the pool. */
  async delete(): Promise<void> {
    checkPoolDeletion(this.record, this.host.allPools());
    this.host.requireRunning(`delete node pool ${this.name}`);
    this.setState('Deleting');
    await this.run(() => this.host.removeNodes(this.nodes()));
    this.host.removePoolRecord(this.name);
  }

  private async run(step: () => Promise<void>): Promise<void> {
    try {
      await step();
      this.setState('Succeeded');
    } catch (err) {
      this.setState('Failed');
      throw err;
    }
  }
}
