import { test } from 'node:test';
import assert from 'node:assert/strict';
import { containerConfig, podLimits, sandboxConfig } from './cri-config.js';
import type { PodInfo } from './pod-spec.js';

const pod = (containers: unknown[], extra: Record<string, unknown> = {}): PodInfo => ({
  namespace: 'ns', name: 'p', uid: 'u1',
  spec: { containers, restartPolicy: 'Always', terminationGracePeriodSeconds: 30, ...extra } as PodInfo['spec'],
  object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'ns', uid: 'u1', labels: { app: 'x' } } },
});

test('pod limits are the containers\' sum, only when every container sets one', () => {
  const p = pod([{ name: 'a', image: 'i', resources: { limits: { cpu: '1500m', memory: '128Mi' } } }, { name: 'b', image: 'i', resources: { limits: { cpu: '500m' } } }]);
  assert.deepEqual(podLimits(p), { cpu: 2 });
  const cfg = sandboxConfig(p, '/logs', 0);
  assert.deepEqual(cfg.linux?.resources, { cpu_period: 100000, cpu_quota: 200000, cpu_shares: 2048 });
  assert.equal(cfg.log_directory, '/logs/ns_p_u1');
  assert.equal(cfg.labels?.['io.kubernetes.pod.uid'], 'u1');
  assert.equal(cfg.labels?.['app'], 'x');
});

test('a container config carries command, env, limits, user and capabilities without the CAP_ prefix', () => {
  const p = pod([{
    name: 'a', image: 'busybox', command: ['sh'], args: ['-c', 'true'], env: [{ name: 'A', value: '1' }],
    resources: { limits: { memory: '256Mi' }, requests: { cpu: '250m' } },
    securityContext: { runAsUser: 1000, capabilities: { add: ['NET_ADMIN', 'CAP_SYS_TIME'] } },
  }]);
  const c = containerConfig(p, p.spec.containers[0]!, 2, 2, { env: [['A', '1']], command: ['sh'], args: ['-c', 'true'], mounts: [] });
  assert.deepEqual([c.command, c.args, c.envs], [['sh'], ['-c', 'true'], [{ key: 'A', value: '1' }]]);
  assert.equal(c.log_path, 'a/2.log');
  assert.deepEqual(c.linux?.resources, { cpu_shares: 256, memory_limit_in_bytes: 256 * 2 ** 20 });
  assert.deepEqual(c.linux?.security_context?.run_as_user, { value: 1000 });
  assert.deepEqual(c.linux?.security_context?.capabilities?.add_capabilities, ['NET_ADMIN', 'SYS_TIME']);
  assert.equal(c.annotations?.['io.kubernetes.container.restartCount'], '2');
});
