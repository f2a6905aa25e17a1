import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject, PodStatsSummary, StatsSummary } from '../kube/index.js';
import { createLogger, nullSink } from '../log.js';
import { metricsResources, nodeMetricsOf, podMetricsOf, VM_HOST_ANNOTATION, type NodeStatsSource, type ObjectReader } from './metrics.js';
import { matches, parseSelectors, type Scope } from './registry.js';
import { nodeMetrics, podMetrics } from './resources/metrics.js';
import { failure, notFoundError, statusFor } from './status.js';

const now = new Date('2026-03-01T12:00:30.250Z');
const node = (name: string): KubeObject => ({ apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { 'kubernetes.io/hostname': name } } });
const pod = (namespace: string, name: string, nodeName: string, labels: Record<string, string> = {}): KubeObject => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, uid: `uid-${name}`, labels },
  spec: { nodeName, containers: [{ name: 'main' }, { name: 'sidecar' }] },
});
const cpu = (time: string, nanoCores: number, windowSeconds = 10.062) => ({ time, usageNanoCores: nanoCores, usageCoreNanoSeconds: 5e12, windowSeconds });
const mem = (time: string, workingSetBytes: number) => ({ time, workingSetBytes });

const vmPodStats: PodStatsSummary = {
  podRef: { name: 'busy', namespace: 'default', uid: 'uid-busy' },
  startTime: '2026-03-01T11:00:00.000Z',
  containers: [
    { name: 'sidecar', startTime: '2026-03-01T11:00:01.000Z', cpu: cpu('2026-03-01T12:00:21.500Z', 1_250_000, 10.5), memory: mem('2026-03-01T12:00:21.500Z', 2 * 2 ** 20) },
    { name: 'main', startTime: '2026-03-01T11:00:01.000Z', cpu: cpu('2026-03-01T12:00:20.700Z', 998_123_456), memory: mem('2026-03-01T12:00:20.700Z', 3_145_728 + 4096) },
  ],
  vm: {
    processes: [{ role: 'qemu', pid: 4242 }, { role: 'shim', pid: 4200 }],
    cpu: { time: '2026-03-01T12:00:21.000Z', usageNanoCores: 1_110_000_000, windowSeconds: 10 },
    memory: { time: '2026-03-01T12:00:21.000Z', pssBytes: 180 * 2 ** 20, rssBytes: 300 * 2 ** 20 },
  },
};

test('a NodeMetrics has metrics-server\'s shape: usage in nanocores and bytes, a Go window, second timestamps', () => {
  const stats = { nodeName: 'n1', startTime: '2026-03-01T00:00:00.000Z', cpu: cpu('2026-03-01T12:00:25.123Z', 1_523_000_000), memory: mem('2026-03-01T12:00:25.123Z', 1_572_864_000) };
  const m = nodeMetricsOf(node('n1'), stats, now);
  assert.deepEqual(m, {
    kind: 'NodeMetrics', apiVersion: 'metrics.k8s.io/v1beta1',
    metadata: { name: 'n1', creationTimestamp: '2026-03-01T12:00:30Z', labels: { 'kubernetes.io/hostname': 'n1' } },
    timestamp: '2026-03-01T12:00:25Z', window: '10.062s',
    usage: { cpu: '1523m', memory: '1500Mi' },
  });
  assert.ok(nodeMetrics.schema.safeParse(m).success, 'the NodeMetrics schema reads it, strictly');
  assert.equal(nodeMetricsOf(node('n1'), { ...stats, cpu: { time: stats.cpu.time, usageCoreNanoSeconds: 1 } }, now), undefined, 'no rate yet: no metrics');
});

test('a PodMetrics lists containers in the pod\'s order, takes the earliest container\'s time, and carries a VM\'s host cost', () => {
  const m = podMetricsOf(pod('default', 'busy', 'n1', { app: 'spin' }), vmPodStats, now);
  assert.deepEqual(m, {
    kind: 'PodMetrics', apiVersion: 'metrics.k8s.io/v1beta1',
    metadata: {
      name: 'busy', namespace: 'default', creationTimestamp: '2026-03-01T12:00:30Z', labels: { app: 'spin' },
      annotations: {
        [VM_HOST_ANNOTATION.cpu]: '1110m', [VM_HOST_ANNOTATION.memory]: '180Mi', [VM_HOST_ANNOTATION.memoryRss]: '300Mi',
        [VM_HOST_ANNOTATION.processes]: 'qemu=4242,shim=4200',
      },
    },
    timestamp: '2026-03-01T12:00:20Z', window: '10.062s',
    containers: [
      { name: 'main', usage: { cpu: '998123456n', memory: '3076Ki' } },
      { name: 'sidecar', usage: { cpu: '1250u', memory: '2Mi' } },
    ],
  });
  assert.ok(podMetrics.schema.safeParse(m).success, 'the PodMetrics schema reads it, strictly');
});

test('a pod has no metrics until every measured container has a rate, nor from the stats of an earlier pod of its name', () => {
  const p = pod('default', 'busy', 'n1');
  const { vm: _vm, ...plain } = vmPodStats;
  assert.equal(podMetricsOf(p, plain, now)?.metadata.annotations, undefined, 'a plain pod has no host-cost annotations');
  const oneNew = { ...plain, containers: [plain.containers[0]!, { ...plain.containers[1]!, cpu: { time: '2026-03-01T12:00:20.700Z', usageCoreNanoSeconds: 7 } }] };
  assert.equal(podMetricsOf(p, oneNew, now), undefined);
  assert.equal(podMetricsOf(p, { ...plain, containers: [] }, now), undefined);
  assert.equal(podMetricsOf(p, { ...plain, podRef: { ...plain.podRef, uid: 'uid-of-an-older-pod' } }, now), undefined);
});

/** Pods and nodes as the registry would answer them, and node agents that answer (or not). */
function cluster(objects: KubeObject[], summaries: Record<string, StatsSummary | Error>): { reader: ObjectReader; source: NodeStatsSource; asked: string[] } {
  const asked: string[] = [];
  const stored = new Map(objects.map((o) => [o.kind === 'Node' ? `node/${o.metadata.name}` : `pod/${o.metadata.namespace}/${o.metadata.name}`, o]));
  const find = (scope: Scope, name: string): KubeObject | undefined => stored.get(scope.def.kind === 'Node' ? `node/${name}` : `pod/${scope.namespace}/${name}`);
  const reader: ObjectReader = {
    get: async (scope, name) => {
      const o = find(scope, name);
      if (!o) throw notFoundError(scope.def, name);
      return o;
    },
    list: async (scope, sel) => ({
      apiVersion: 'v1', kind: `${scope.def.kind}List`, metadata: { resourceVersion: '1' },
      items: objects.filter((o) => o.kind === scope.def.kind && (scope.namespace === undefined || o.metadata.namespace === scope.namespace) && matches(scope.def, sel, o)),
    }),
  };
  const source: NodeStatsSource = {
    summary: async (n) => {
      asked.push(n.metadata.name ?? '');
      const s = summaries[n.metadata.name ?? ''];
      if (!s || s instanceof Error) throw s ?? new Error('no such node agent');
      return s;
    },
  };
  return { reader, source, asked };
}

const summaryOf = (nodeName: string, ...pods: PodStatsSummary[]): StatsSummary => ({
  node: { nodeName, startTime: '2026-03-01T00:00:00.000Z', cpu: cpu('2026-03-01T12:00:25.000Z', 700_000_000), memory: mem('2026-03-01T12:00:25.000Z', 2 ** 30) },
  pods,
});
const statsFor = (p: KubeObject): PodStatsSummary => ({
  ...vmPodStats, vm: undefined,
  podRef: { name: p.metadata.name ?? '', namespace: p.metadata.namespace ?? '', uid: p.metadata.uid ?? '' },
});

test('pods are measured on their nodes, across namespaces and by label; a node that cannot answer is left out of a list', async () => {
  const pods = [pod('default', 'a', 'n1', { app: 'web' }), pod('default', 'b', 'n2', { app: 'db' }), pod('other', 'c', 'n1', { app: 'web' }), pod('default', 'pending', '')];
  const unreachable = failure(503, 'ServiceUnavailable', 'cannot read the resource usage of node "n2"');
  const { reader, source, asked } = cluster([...pods, node('n1'), node('n2')], {
    n1: summaryOf('n1', statsFor(pods[0]!), statsFor(pods[2]!)),
    n2: unreachable,
  });
  const [nodesResource, podsResource] = metricsResources(reader, source, createLogger('test', nullSink), () => now);
  const sel = (q: string): ReturnType<typeof parseSelectors> => parseSelectors(podMetrics, new URLSearchParams(q));

  const all = await podsResource!.list({ def: podMetrics }, sel(''));
  assert.equal(all.kind, 'PodMetricsList');
  assert.deepEqual(all.metadata, {});
  assert.deepEqual(all.items.map((m) => `${m.metadata.namespace}/${m.metadata.name}`), ['default/a', 'other/c'], 'b is on the unreachable node, pending on none');
  assert.deepEqual(asked.sort(), ['n1', 'n2']);

  const web = await podsResource!.list({ def: podMetrics, namespace: 'default' }, sel('labelSelector=app%3Dweb'));
  assert.deepEqual(web.items.map((m) => m.metadata.name), ['a']);
  assert.throws(() => sel('fieldSelector=spec.nodeName%3Dn1'), /field label not supported: spec\.nodeName/);

  const a = await podsResource!.get({ def: podMetrics, namespace: 'default' }, 'a');
  assert.equal((a['containers'] as unknown[]).length, 2);
  await assert.rejects(podsResource!.get({ def: podMetrics, namespace: 'default' }, 'b'), (e: unknown) => statusFor(e).code === 503 && /node "n2"/.test(statusFor(e).message ?? ''),
    'asked for by name, the node\'s failure is the answer');
  await assert.rejects(podsResource!.get({ def: podMetrics, namespace: 'default' }, 'pending'),
    (e: unknown) => statusFor(e).message === 'podmetrics.metrics.k8s.io "default/pending" not found', 'metrics-server\'s NotFound');
  await assert.rejects(podsResource!.get({ def: podMetrics, namespace: 'default' }, 'nosuch'), (e: unknown) => statusFor(e).message === 'pods "nosuch" not found');

  const nodeList = await nodesResource!.list({ def: nodeMetrics }, parseSelectors(nodeMetrics, new URLSearchParams()));
  assert.equal(nodeList.kind, 'NodeMetricsList');
  assert.deepEqual(nodeList.items.map((m) => [m.metadata.name, (m['usage'] as { cpu: string }).cpu]), [['n1', '700m']]);
  await assert.rejects(nodesResource!.get({ def: nodeMetrics }, 'n2'), (e: unknown) => statusFor(e).code === 503);
});
