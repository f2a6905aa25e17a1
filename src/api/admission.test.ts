import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../kube/index.js';
import { admitPod, defaultRuntimeClasses, vmMemoryAnnotation } from './admission.js';

const classes = new Map(defaultRuntimeClasses().map((rc) => [rc.metadata.name ?? '', rc]));
const lookups = { runtimeClass: async (name: string): Promise<KubeObject | undefined> => classes.get(name), runtimeClassNames: async (): Promise<string[]> => [...classes.keys()] };

const pod = (spec: Record<string, unknown>): KubeObject => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default' },
  spec: { containers: [{ name: 'c', image: 'x' }], ...spec },
});

test('pods without a RuntimeClass pass untouched', async () => {
  const p = pod({});
  const r = await admitPod(p, lookups);
  assert.deepEqual(r, { warnings: [], errors: [] });
  assert.equal(p.metadata.annotations, undefined);
});

test('an unknown RuntimeClass is forbidden and the message lists the known ones', async () => {
  const r = await admitPod(pod({ runtimeClassName: 'gvisor' }), lookups);
  assert.match(r.forbidden ?? '', /RuntimeClass "gvisor" not found; create it or use one of: runc, vm-isolation/);
});

test('a VM class copies overhead, selector and tolerations, and sizes the VM', async () => {
  const p = pod({ runtimeClassName: 'kata-vm-isolation', nodeSelector: { zone: 'a' } });
  const r = await admitPod(p, lookups);
  assert.deepEqual(r.errors, []);
  const spec = p['spec'] as Record<string, unknown>;
  assert.deepEqual(spec['overhead'], { cpu: '10m', memory: '200Mi' });
  assert.deepEqual(spec['nodeSelector'], { zone: 'a', 'kubernetes.azure.com/kata-vm-isolation': 'true' });
  assert.equal((spec['tolerations'] as unknown[]).length, 1);
  assert.equal(p.metadata.annotations?.[vmMemoryAnnotation], '512Mi');
  const sized = pod({ runtimeClassName: 'vm-isolation', containers: [{ name: 'a', image: 'x', resources: { limits: { memory: '1Gi' } } }, { name: 'b', image: 'x', resources: { limits: { memory: '256Mi' } } }] });
  await admitPod(sized, lookups);
  assert.equal(sized.metadata.annotations?.[vmMemoryAnnotation], '1280Mi');
});

test('VM pods may not use host namespaces, host devices or device plugins; privileged only warns', async () => {
  const r = await admitPod(pod({
    runtimeClassName: 'vm-isolation', hostNetwork: true, hostPID: true, hostIPC: true,
    volumes: [{ name: 'dev', hostPath: { path: '/dev/kvm', type: 'CharDevice' } }],
    containers: [{ name: 'c', image: 'x', securityContext: { privileged: true }, resources: { limits: { 'nvidia.com/gpu': '1', memory: '1Gi' } } }],
  }), lookups);
  assert.deepEqual(r.errors.map((e) => e.field), ['spec.hostNetwork', 'spec.hostPID', 'spec.hostIPC', 'spec.volumes[0].hostPath', 'spec.containers[0].resources.limits[nvidia.com/gpu]']);
  assert.ok(r.errors.every((e) => /run in their own VM/.test(e.detail)));
  assert.equal(r.warnings.length, 1);
  assert.match(r.warnings[0]!, /privileged grants power inside the pod's VM only/);
  const runc = await admitPod(pod({ runtimeClassName: 'runc', hostNetwork: true }), lookups);
  assert.deepEqual(runc.errors, []);
});

test('a pod overhead that differs from the class is refused, a selector conflict too', async () => {
  assert.match((await admitPod(pod({ runtimeClassName: 'vm-isolation', overhead: { memory: '1Mi' } }), lookups)).forbidden ?? '', /Overhead doesn't match/);
  assert.match((await admitPod(pod({ runtimeClassName: 'vm-isolation', nodeSelector: { 'kubernetes.azure.com/kata-vm-isolation': 'false' } }), lookups)).forbidden ?? '', /conflict/);
});

test('fields no Sandpod node can honour are refused with the reason, never dropped', async () => {
  const r = await admitPod(pod({
    volumes: [{ name: 'pvc', persistentVolumeClaim: { claimName: 'x' } }, { name: 'tok', projected: { sources: [{ serviceAccountToken: { path: 't' } }] } }],
    containers: [{ name: 'c', image: 'x', ports: [{ containerPort: 80, hostPort: 8080 }], securityContext: { seLinuxOptions: { level: 's0' } } }],
    topologySpreadConstraints: [{ maxSkew: 1 }], priorityClassName: 'high', automountServiceAccountToken: true,
    securityContext: { sysctls: [{ name: 'net.core.somaxconn', value: '1024' }, { name: 'vm.swappiness', value: '1' }] },
  }), lookups);
  assert.deepEqual(r.errors.map((e) => e.field), [
    'spec.volumes[0].persistentVolumeClaim', 'spec.volumes[1].projected.sources[0].serviceAccountToken',
    'spec.containers[0].ports[0].hostPort', 'spec.containers[0].securityContext.seLinuxOptions',
    'spec.securityContext.sysctls[0].name', 'spec.securityContext.sysctls[1].name',
    'spec.topologySpreadConstraints', 'spec.priorityClassName', 'spec.automountServiceAccountToken',
  ]);
  assert.match(r.errors[0]!.detail, /supported volume types: emptyDir, configMap, secret, downwardAPI, projected, hostPath/);
  assert.match(r.errors[4]!.detail, /unsafe for a pod that shares the node's kernel/);
  assert.match(r.errors[5]!.detail, /not namespaced/);
});

test('a VM pod may set any namespaced sysctl, but no hostPath; runc pods get no token mounted', async () => {
  const vm = await admitPod(pod({ runtimeClassName: 'kata-vm-isolation', volumes: [{ name: 'h', hostPath: { path: '/etc' } }], securityContext: { sysctls: [{ name: 'net.core.somaxconn', value: '1024' }] } }), lookups);
  assert.deepEqual(vm.errors.map((e) => e.field), ['spec.volumes[0].hostPath']);
  assert.match(vm.errors[0]!.detail, /the host's files stay outside the VM/);
  const p = pod({});
  await admitPod(p, lookups);
  assert.equal((p['spec'] as Record<string, unknown>)['automountServiceAccountToken'], false);
  const missing = await admitPod(pod({ serviceAccountName: 'robot' }), { ...lookups, serviceAccountExists: async () => false });
  assert.match(missing.forbidden ?? '', /serviceaccount "robot" not found/);
});

test('seccompProfile RuntimeDefault is admitted for VM pods (the guest applies it) as for runc pods; Localhost is refused for both', async () => {
  for (const runtimeClassName of ['vm-isolation', 'runc']) {
    const ok = await admitPod(pod({
      runtimeClassName, securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
      containers: [{ name: 'c', image: 'x', securityContext: { seccompProfile: { type: 'RuntimeDefault' } } }],
    }), lookups);
    assert.deepEqual(ok.errors, [], runtimeClassName);
    const local = await admitPod(pod({ runtimeClassName, securityContext: { seccompProfile: { type: 'Localhost', localhostProfile: 'p.json' } } }), lookups);
    assert.deepEqual(local.errors.map((e) => e.field), ['spec.securityContext.seccompProfile.type'], runtimeClassName);
    assert.match(local.errors[0]?.detail ?? '', /Localhost seccomp profiles are not installed/);
  }
});
