import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../kube/index.js';
import { podStatusText, validatePod } from './pods.js';


test('status text prefers container reasons and Terminating', () => {
  const pod = (extra: Partial<KubeObject>): KubeObject => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, ...extra });
  assert.equal(podStatusText(pod({ status: { phase: 'Pending', containerStatuses: [{ state: { waiting: { reason: 'ImagePullBackOff' } } }] } })), 'ImagePullBackOff');
  assert.equal(podStatusText(pod({ status: { phase: 'Failed', containerStatuses: [{ state: { terminated: { exitCode: 2 } } }] } })), 'ExitCode:2');
  assert.equal(podStatusText(pod({ metadata: { name: 'p', deletionTimestamp: 'x' }, status: { phase: 'Running' } })), 'Terminating');
});

test('validation names each bad field', () => {
  const errs = validatePod({
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' },
    spec: { containers: [{ name: 'c', image: 'x', ports: [{ containerPort: 70000 }], resources: { requests: { memory: '2Gi' }, limits: { memory: '1Gi' } } }, { name: 'c', image: '' }] },
  });
  assert.deepEqual(errs.map((e) => e.field), [
    'spec.containers[0].ports[0].containerPort', 'spec.containers[0].resources.requests', 'spec.containers[1].name', 'spec.containers[1].image',
  ]);
});

const podWith = (spec: Record<string, unknown>): KubeObject => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec });
const fields = (spec: Record<string, unknown>): string[] => validatePod(podWith(spec)).map((e) => `${e.field}: ${e.detail.split(':')[0]}`);

test('volumes: one source each, unique names, items and modes, mounts that name a volume', () => {
  assert.deepEqual(fields({
    volumes: [
      { name: 'a', emptyDir: {}, configMap: { name: 'x' } },
      { name: 'a', secret: {} },
      { name: 'b', configMap: { name: 'c', items: [{ key: 'k/1', path: '../x', mode: 0o1777 }] } },
      { name: 'c', hostPath: { path: '/x', type: 'Pipe' } },
      { name: 'd', downwardAPI: { items: [{ path: 'x', fieldRef: { fieldPath: 'spec.nodeName' } }] } },
      { name: 'e' },
    ],
    containers: [{ name: 'c', image: 'x', volumeMounts: [{ name: 'zz', mountPath: 'rel', subPath: '/abs' }, { name: 'a', mountPath: '/m', subPath: 'x', subPathExpr: 'y' }] }],
  }), [
    'spec.volumes[0].configMap: Forbidden',
    'spec.volumes[1].name: Duplicate value',
    'spec.volumes[1].secret.secretName: Required value',
    'spec.volumes[2].configMap.items[0].key: Invalid value',
    'spec.volumes[2].configMap.items[0].path: Invalid value',
    'spec.volumes[2].configMap.items[0].mode: Invalid value',
    'spec.volumes[3].hostPath.type: Unsupported value',
    'spec.volumes[4].downwardAPI.items[0].fieldRef.fieldPath: Unsupported value',
    'spec.volumes[5]: Required value',
    'spec.containers[0].volumeMounts[0].name: Not found',
    'spec.containers[0].volumeMounts[0].mountPath: Invalid value',
    'spec.containers[0].volumeMounts[0].subPath: Invalid value',
    'spec.containers[0].volumeMounts[1].subPathExpr: Invalid value',
  ]);
});

test('env, probes, lifecycle and init containers follow kube\'s rules', () => {
  assert.deepEqual(fields({
    initContainers: [{ name: 'i', image: 'x', readinessProbe: { exec: { command: ['true'] } } }, { name: 's', image: 'x', restartPolicy: 'Always', startupProbe: { tcpSocket: { port: 'web' } } }],
    containers: [{
      name: 'c', image: 'x', ports: [{ containerPort: 80, name: 'http' }], restartPolicy: 'Always',
      env: [{ name: 'A=B', value: 'x' }, { name: 'B', value: 'v', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }, { name: 'C', valueFrom: { fieldRef: { fieldPath: 'status.phase' } } }, { name: 'D', valueFrom: { resourceFieldRef: { resource: 'limits.gpu' } } }],
      envFrom: [{ configMapRef: { name: 'a' }, secretRef: { name: 'b' } }],
      livenessProbe: { httpGet: { port: 'http' }, tcpSocket: { port: 80 }, successThreshold: 2 },
      readinessProbe: { grpc: { port: 70000 } },
      lifecycle: { preStop: {} },
    }],
  }), [
    'spec.initContainers[0].readinessProbe: Forbidden',
    'spec.initContainers[1].startupProbe.tcpSocket.port: Invalid value',
    'spec.containers[0].env[0].name: Invalid value',
    'spec.containers[0].env[1].valueFrom: Invalid value',
    'spec.containers[0].env[2].valueFrom.fieldRef.fieldPath: Unsupported value',
    'spec.containers[0].env[3].valueFrom.resourceFieldRef.resource: Unsupported value',
    'spec.containers[0].envFrom[0]: Invalid value',
    'spec.containers[0].restartPolicy: Forbidden',
    'spec.containers[0].livenessProbe.tcpSocket: Forbidden',
    'spec.containers[0].livenessProbe.successThreshold: Invalid value',
    'spec.containers[0].readinessProbe.grpc.port: Invalid value',
    'spec.containers[0].lifecycle.preStop: Required value',
  ]);
});

test('pod-level rules: DNS, hostname, aliases, sysctls, deadlines', () => {
  assert.deepEqual(fields({
    containers: [{ name: 'c', image: 'x' }],
    dnsPolicy: 'None', hostname: 'Bad_Name', activeDeadlineSeconds: 0,
    hostAliases: [{ ip: 'not-ip', hostnames: ['ok.example'] }],
    securityContext: { sysctls: [{ name: 'net.ipv4.tcp_syncookies', value: '1' }, { name: 'net.ipv4.tcp_syncookies', value: '0' }], fsGroupChangePolicy: 'Sometimes' },
  }), [
    'spec.activeDeadlineSeconds: Invalid value',
    'spec.dnsConfig.nameservers: Required value',
    'spec.hostname: Invalid value',
    'spec.hostAliases[0].ip: Invalid value',
    'spec.securityContext.fsGroupChangePolicy: Unsupported value',
    'spec.securityContext.sysctls[1].name: Duplicate value',
  ]);
  assert.deepEqual(fields({ containers: [{ name: 'c', image: 'x' }] }), []);
});
