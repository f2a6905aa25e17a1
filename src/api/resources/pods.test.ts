import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../kube/index.js';
import { podStatusText, qosClass, validatePod } from './pods.js';

const c = (resources: Record<string, unknown> = {}): Record<string, unknown> => ({ name: 'c', image: 'x', resources });

test('QoS class follows kube', () => {
  assert.equal(qosClass({ containers: [c()] }), 'BestEffort');
  assert.equal(qosClass({ containers: [c({ requests: { memory: '1Gi' } })] }), 'Burstable');
  assert.equal(qosClass({ containers: [c({ limits: { cpu: '1', memory: '1Gi' } })] }), 'Guaranteed');
  assert.equal(qosClass({ containers: [c({ limits: { cpu: '1', memory: '1Gi' }, requests: { cpu: '500m' } })] }), 'Burstable');
});

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
