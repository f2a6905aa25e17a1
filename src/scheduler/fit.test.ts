import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../kube/index.js';
import { place, podRequests, usageByNode } from './fit.js';

const node = (name: string, labels: Record<string, string>, memory = '4Gi', taints: unknown[] = []): KubeObject => ({
  apiVersion: 'v1', kind: 'Node', metadata: { name, labels },
  spec: { taints },
  status: { allocatable: { cpu: '4', memory, pods: '110' }, conditions: [{ type: 'Ready', status: 'True' }] },
});

const pod = (spec: Record<string, unknown>): KubeObject => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default' }, spec });

test('requests add overhead and take the larger init container', () => {
  const p = pod({
    containers: [{ resources: { requests: { memory: '1Gi' } } }, { resources: { requests: { memory: '1Gi', cpu: '500m' } } }],
    initContainers: [{ resources: { requests: { memory: '3Gi' } } }],
    overhead: { memory: '64Mi' },
  });
  assert.deepEqual(podRequests(p), { memory: 3 * 2 ** 30 + 64 * 2 ** 20, cpu: 0.5, pods: 1 });
});

test('node selector, taints and resources decide the node; the message counts reasons like kube-scheduler', () => {
  const nodes = [node('a', {}), node('b', {}), node('vm', { 'kubernetes.azure.com/kata-vm-isolation': 'true' }, '1Gi')];
  const vmPod = pod({ nodeSelector: { 'kubernetes.azure.com/kata-vm-isolation': 'true' }, containers: [{ resources: { requests: { memory: '512Mi' } } }] });
  assert.equal(place(vmPod, nodes, new Map()).node, 'vm');
  const big = pod({ nodeSelector: { 'kubernetes.azure.com/kata-vm-isolation': 'true' }, containers: [{ resources: { requests: { memory: '2Gi' } } }] });
  assert.equal(place(big, nodes, new Map()).message, "0/3 nodes are available: 2 node(s) didn't match Pod's node affinity/selector, 1 Insufficient memory.");
  const tainted = [node('t', {}, '4Gi', [{ key: 'dedicated', value: 'x', effect: 'NoSchedule' }])];
  assert.equal(place(pod({ containers: [{}] }), tainted, new Map()).message, '0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: x}.');
  assert.equal(place(pod({ containers: [{}], tolerations: [{ key: 'dedicated', operator: 'Exists' }] }), tainted, new Map()).node, 't');
});

test('bound pods use up allocatable; required node affinity is honoured', () => {
  const nodes = [node('a', { zone: 'z1' }, '1Gi'), node('b', { zone: 'z2' }, '1Gi')];
  const bound = pod({ nodeName: 'a', containers: [{ resources: { requests: { memory: '768Mi' } } }] });
  const usage = usageByNode([bound]);
  const p = pod({ containers: [{ resources: { requests: { memory: '512Mi' } } }] });
  assert.equal(place(p, nodes, usage).node, 'b');
  const affinity = { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['z1'] }] }] } } };
  assert.equal(place(pod({ affinity, containers: [{}] }), nodes, usage).node, 'a');
  assert.match(place(pod({ affinity, containers: [{ resources: { requests: { memory: '512Mi' } } }] }), nodes, usage).message ?? '', /1 Insufficient memory, 1 node\(s\) didn't match/);
});

test('preferred node affinity picks among the feasible nodes before free memory does', () => {
  const nodes = [node('big', { zone: 'a' }, '8Gi'), node('small', { zone: 'b' }, '2Gi')];
  const prefersB = pod({ containers: [{}], affinity: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 10, preference: { matchExpressions: [{ key: 'zone', operator: 'In', values: ['b'] }] } }] } } });
  assert.equal(place(prefersB, nodes, new Map()).node, 'small');
  assert.equal(place(pod({ containers: [{}] }), nodes, new Map()).node, 'big');
});

test('a RuntimeClass no node runs: the message says which label no node has, and what to add', () => {
  const nodes = [node('a', { 'kubernetes.azure.com/agentpool': 'plain' }), node('b', { 'kubernetes.azure.com/agentpool': 'plain' })];
  const vmPod = pod({ runtimeClassName: 'kata-vm-isolation', nodeSelector: { 'kubernetes.azure.com/kata-vm-isolation': 'true' }, containers: [{}] });
  assert.equal(place(vmPod, nodes, new Map()).message,
    "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector. No node has the label kubernetes.azure.com/kata-vm-isolation=true, "
    + 'which RuntimeClass kata-vm-isolation selects: no node pool runs that runtime; add one that does (e.g. sandpod nodepool add --workload-runtime KataVmIsolation --os-sku AzureLinux).');
  const other = pod({ nodeSelector: { zone: 'z9', 'kubernetes.azure.com/agentpool': 'plain' }, containers: [{}] });
  assert.match(place(other, nodes, new Map()).message ?? '', /selector\. No node has the label zone=z9\.$/);
});
