/**
 * The node agent's NetworkPolicy controller: watches the cluster's NetworkPolicies, namespaces, pods (peers may be on
 * any node) and nodes (their pod CIDRs), learns which bridge port each of this node's pod sandboxes has from the
 * runtime, and keeps the node's nftables tables (src/net/nftables.ts) equal to what they say. Every change is a new
 * program computed from the whole state and loaded atomically; an agent that starts again rebuilds it from the API.
 * It runs inside the node's network namespace, where the tables live; stopping it leaves them in force.
 */
import { z } from 'zod';
import type { CriClient } from '../cri/index.js';
import { describeError } from '../errors.js';
import { Informer, isRecord, networkPolicySpecSchema, type KubeClient, type KubeObject, type PolicyProtocol } from '../kube/index.js';
import type { Logger } from '../log.js';
import {
  applyNftProgram, podRules, renderRuleset,
  type ClusterPolicyState, type PodPort, type PolicyNamespace, type PolicyObject, type PolicyPod,
} from '../net/index.js';

/** How often the runtime is asked for new sandboxes (a pod's port is unusable until the rules name it). */
const PORT_POLL_MS = 500;
/** How often the program is loaded again even if nothing changed (someone may have removed the tables). */
const REAPPLY_MS = 60_000;
/** Events that come together (a namespace relabelled, many pods at once) make one program. */
const DEBOUNCE_MS = 20;

const portsSchema = z.array(z.object({ name: z.string().optional(), containerPort: z.number(), protocol: z.string().optional() }).passthrough()).optional();
const podSchema = z.object({
  metadata: z.object({ name: z.string(), namespace: z.string(), labels: z.record(z.string(), z.string()).optional() }).passthrough(),
  spec: z.object({
    nodeName: z.string().optional(),
    hostNetwork: z.boolean().optional(),
    containers: z.array(z.object({ ports: portsSchema }).passthrough()).optional(),
    initContainers: z.array(z.object({ ports: portsSchema }).passthrough()).optional(),
  }).passthrough(),
  status: z.object({ podIP: z.string().optional(), phase: z.string().optional() }).passthrough().optional(),
}).passthrough();

/** A pod as policies see it, with its node; undefined for pods without their own address (hostNetwork, none yet, finished). */
export function policyPod(obj: KubeObject): (PolicyPod & { nodeName: string }) | undefined {
  const parsed = podSchema.safeParse(obj);
  if (!parsed.success) return undefined;
  const { metadata, spec, status } = parsed.data;
  const ip = status?.podIP;
  if (!ip || spec.hostNetwork || status?.phase === 'Succeeded' || status?.phase === 'Failed') return undefined;
  const ports = [...(spec.containers ?? []), ...(spec.initContainers ?? [])].flatMap((c) => c.ports ?? [])
    .map((p) => ({ name: p.name, port: p.containerPort, protocol: (p.protocol ?? 'TCP') as PolicyProtocol }));
  return { namespace: metadata.namespace, name: metadata.name, labels: metadata.labels ?? {}, ip, ports, nodeName: spec.nodeName ?? '' };
}

const policyObject = (obj: KubeObject): PolicyObject | undefined => {
  const spec = networkPolicySpecSchema.safeParse(obj['spec'] ?? {});
  return spec.success ? { namespace: obj.metadata.namespace ?? '', name: obj.metadata.name ?? '', spec: spec.data } : undefined;
};

const nodePodCidrs = (obj: KubeObject): string[] => {
  const spec = isRecord(obj['spec']) ? obj['spec'] : {};
  const cidrs = Array.isArray(spec['podCIDRs']) ? spec['podCIDRs'] : [spec['podCIDR']];
  return cidrs.filter((c): c is string => typeof c === 'string' && c.includes('.'));
};

/** containerd's verbose sandbox info: the CNI result names the host side of the pod's veth (the one without a sandbox). */
const sandboxInfoSchema = z.object({
  cniResult: z.object({
    Interfaces: z.record(z.string(), z.object({ Sandbox: z.string().optional() }).passthrough().nullable()).nullable().optional(),
  }).passthrough().nullable().optional(),
}).passthrough();

/** The host-side interface of a sandbox from containerd's verbose status, or undefined when it has none (yet). */
export function hostInterfaceOf(info: Record<string, string>, bridge: string): string | undefined {
  const text = info['info'];
  if (!text) return undefined;
  const parsed = sandboxInfoSchema.safeParse(JSON.parse(text));
  if (!parsed.success) return undefined;
  const interfaces = Object.entries(parsed.data.cniResult?.Interfaces ?? {});
  return interfaces.find(([name, c]) => name !== bridge && !c?.Sandbox)?.[0];
}

export interface NetworkPolicyControllerOptions {
  client: KubeClient;
  cri: Pick<CriClient, 'listPodSandbox' | 'podSandboxStatus'>;
  nodeName: string;
  /** The node's pod bridge, whose ports are the pods. */
  bridge: string;
  /** The node's own pod CIDR (also read from the Node objects). */
  podCIDR?: string;
  log: Logger;
  /** Loads a program (default: `nft -f` in this namespace); a seam for tests. */
  apply?: (program: string) => Promise<void>;
}

export class NetworkPolicyController {
  private readonly informers: Record<'pods' | 'namespaces' | 'policies' | 'nodes', Informer>;
  /** Sandbox id → its port; null while the runtime has not said. */
  private readonly ports = new Map<string, PodPort | null>();
  private timers: NodeJS.Timeout[] = [];
  private pending: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private applied = '';
  private stopped = false;
  private readonly apply: (program: string) => Promise<void>;

  constructor(private readonly o: NetworkPolicyControllerOptions) {
    const changed = (): void => this.schedule();
    this.informers = {
      pods: new Informer(o.client, '/api/v1/pods', changed, 500),
      namespaces: new Informer(o.client, '/api/v1/namespaces', changed, 500),
      policies: new Informer(o.client, '/apis/networking.k8s.io/v1/networkpolicies', changed, 500),
      nodes: new Informer(o.client, '/api/v1/nodes', changed, 500),
    };
    this.apply = o.apply ?? ((program) => applyNftProgram(program, `node/${o.nodeName}`));
  }

  /** Lists everything, loads the first program, then keeps the tables in step. */
  async start(): Promise<void> {
    await Promise.all(Object.values(this.informers).map((i) => i.start()));
    await this.refreshPorts();
    await this.sync();
    this.timers = [
      setInterval(() => void this.refreshPorts().then((changed) => { if (changed) this.schedule(); }), PORT_POLL_MS),
      setInterval(() => { this.applied = ''; this.schedule(); }, REAPPLY_MS),
    ];
  }

  /** Stops watching; the tables stay in force for the pods that keep running. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    clearTimeout(this.pending);
    for (const i of Object.values(this.informers)) i.stop();
    await this.running;
  }

  private schedule(): void {
    if (this.stopped || this.pending) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      void this.sync();
    }, DEBOUNCE_MS);
  }

  /** Asks the runtime for this node's sandboxes and the ports of new ones; true when the set changed. */
  private async refreshPorts(): Promise<boolean> {
    let changed = false;
    try {
      const { items } = await this.o.cri.listPodSandbox({ filter: { state: { state: 'SANDBOX_READY' } } });
      const ready = new Set(items.map((s) => s.id));
      for (const id of [...this.ports.keys()]) if (!ready.has(id)) { this.ports.delete(id); changed = true; }
      for (const s of items) {
        if (this.ports.get(s.id)) continue;
        const { status, info } = await this.o.cri.podSandboxStatus({ pod_sandbox_id: s.id, verbose: true });
        const ifname = hostInterfaceOf(info, this.o.bridge);
        const ip = status?.network?.ip;
        const port = ifname && ip ? { ifname, ip } : null;
        if (port) changed = true;
        else if (!this.ports.has(s.id)) this.o.log.warn('a pod sandbox has no known port on the bridge yet; it sends nothing until it has', { node: this.o.nodeName, sandbox: s.id, pod: `${s.metadata?.namespace}/${s.metadata?.name}` });
        this.ports.set(s.id, port);
      }
    } catch (err) {
      this.o.log.warn('cannot list the pod sandboxes for the network rules', { node: this.o.nodeName, err: describeError(err) });
    }
    return changed;
  }

  /** What the API and the runtime say now, as the node's program. */
  program(): string {
    const pods = [...this.informers.pods.cache.values()].map(policyPod).filter((p) => p !== undefined);
    const namespaces: PolicyNamespace[] = [...this.informers.namespaces.cache.values()].map((n) => ({ name: n.metadata.name ?? '', labels: n.metadata.labels ?? {} }));
    const policies = [...this.informers.policies.cache.values()].map(policyObject).filter((p) => p !== undefined);
    const state: ClusterPolicyState = { policies, namespaces, pods };
    // One pod per address (finished pods, whose addresses are reused, are not among them).
    const local = new Map(pods.filter((p) => p.nodeName === this.o.nodeName).map((p) => [p.ip, p]));
    const podCidrs = [...this.informers.nodes.cache.values()].flatMap(nodePodCidrs);
    return renderRuleset({
      bridge: this.o.bridge,
      podCidrs: [...podCidrs, ...(this.o.podCIDR ? [this.o.podCIDR] : [])],
      ports: [...this.ports.values()].filter((p) => p !== null),
      pods: podRules(state, [...local.values()]),
    });
  }

  /** Loads the program if it differs from the one in force; one at a time, the last change always wins. */
  sync(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        const program = this.program();
        if (program === this.applied || this.stopped) continue;
        const started = Date.now();
        try {
          await this.apply(program);
          this.applied = program;
          this.o.log.info('network rules loaded', { node: this.o.nodeName, ms: Date.now() - started, bytes: program.length });
        } catch (err) {
          this.o.log.error('cannot load the network rules; the previous ones stay in force and loading is tried again', { node: this.o.nodeName, err: describeError(err) });
          setTimeout(() => this.schedule(), 1000).unref();
        }
      } while (this.again && !this.stopped);
    })().finally(() => { this.running = undefined; });
    return this.running;
  }
}
