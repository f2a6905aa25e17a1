import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultPodSpec, dropNulls, latestTag, parsePodSpec, qosClass, type PodSpec } from './pod.js';

const spec = (s: Record<string, unknown>): PodSpec => parsePodSpec({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'd' }, spec: s });

test('null fields are unset, as kube-apiserver decodes them', () => {
  const s = spec({ containers: [{ name: 'a', image: 'x' }], terminationGracePeriodSeconds: null, nodeSelector: null });
  assert.equal(s.terminationGracePeriodSeconds, undefined);
  assert.equal(defaultPodSpec(s).terminationGracePeriodSeconds, 30);
  assert.deepEqual(dropNulls({ a: null, b: [{ c: null, d: 1 }] }), { b: [{ d: 1 }] });
});

test('a field of the wrong type names its path', () => {
  assert.throws(() => spec({ containers: [{ name: 'a', image: 'x', ports: [{ containerPort: 'eighty' }] }] }), /spec\.containers\[0\]\.ports\[0\]\.containerPort/);
});

test('requests default to limits, and the QoS class is computed from the defaulted resources', () => {
  const s = defaultPodSpec(spec({ containers: [{ name: 'a', image: 'x', resources: { limits: { cpu: '1', memory: '1Gi' } } }] }));
  assert.deepEqual(s.containers[0]?.resources?.requests, { cpu: '1', memory: '1Gi' });
  assert.equal(qosClass(s), 'Guaranteed');
  const partial = defaultPodSpec(spec({ containers: [{ name: 'a', image: 'x', resources: { limits: { memory: '1Gi' }, requests: { cpu: '100m' } } }] }));
  assert.deepEqual(partial.containers[0]?.resources?.requests, { cpu: '100m', memory: '1Gi' });
  assert.equal(qosClass(partial), 'Burstable');
  assert.equal(qosClass(defaultPodSpec(spec({ containers: [{ name: 'a', image: 'x' }] }))), 'BestEffort');
  assert.equal(qosClass(defaultPodSpec(spec({ containers: [{ name: 'a', image: 'x', resources: { limits: { cpu: '1', memory: '1Gi' }, requests: { cpu: '500m' } } }] }))), 'Burstable');
});

test('kube-apiserver defaults: pull policy, termination message, probes, volume modes, 300 s tolerations', () => {
  const s = defaultPodSpec(spec({
    containers: [
      { name: 'a', image: 'busybox', readinessProbe: { httpGet: { port: 80 } }, ports: [{ containerPort: 80 }] },
      { name: 'b', image: 'busybox:1.36' },
    ],
    volumes: [{ name: 'c', configMap: { name: 'cm' } }],
    tolerations: [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 10 }],
  }));
  assert.equal(s.containers[0]?.imagePullPolicy, 'Always');
  assert.equal(s.containers[1]?.imagePullPolicy, 'IfNotPresent');
  assert.equal(s.containers[0]?.terminationMessagePath, '/dev/termination-log');
  assert.deepEqual(s.containers[0]?.readinessProbe, { httpGet: { port: 80, path: '/', scheme: 'HTTP' }, timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 });
  assert.equal(s.containers[0]?.ports?.[0]?.protocol, 'TCP');
  assert.equal(s.volumes?.[0]?.configMap?.defaultMode, 0o644);
  assert.deepEqual(s.tolerations?.map((t) => [t.key, t.tolerationSeconds]), [['node.kubernetes.io/unreachable', 10], ['node.kubernetes.io/not-ready', 300]]);
  assert.equal(s.restartPolicy, 'Always');
  assert.equal(s.dnsPolicy, 'ClusterFirst');
  assert.equal(s.schedulerName, 'default-scheduler');
  assert.equal(s.enableServiceLinks, true);
  assert.equal(s.serviceAccountName, 'default');
});

test('latest tags', () => {
  assert.equal(latestTag('busybox'), true);
  assert.equal(latestTag('busybox:latest'), true);
  assert.equal(latestTag('localhost:5000/busybox'), true);
  assert.equal(latestTag('localhost:5000/busybox:1'), false);
  assert.equal(latestTag('busybox@sha256:0123'), false);
});
