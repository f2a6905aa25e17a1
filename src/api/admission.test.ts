import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../kube/index.js';
import { admitPod, defaultRuntimeClasses, vmMemoryAnnotation } from './admission.js';

const classes = new Map(defaultRuntimeClasses().map((rc) => [rc.metadata.name ?? '', rc]));
const lookup = async (name: string): Promise<KubeObject | undefined> => classes.get(name);
const names = async (): Promise<string[]> => [...classes.keys()];

const pod = (spec: Record<string, unknown>): KubeObject => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default' },
  spec: { containers: [{ name: 'c', image: 'x' }], ...spec },
});

test('pods without a RuntimeClass pass untouched', async () => {
  const p = pod({});
  const r = await admitPod(p, lookup, names);
  assert.deepEqual(r, { warnings: [], errors: [] });
  assert.equal(p.metadata.annotations, undefined);
});

test('an unknown RuntimeClass is forbidden and the message lists the known ones', async () => {
  const r = await admitPod(pod({ runtimeClassName: 'gvisor' }), lookup, names);
  assert.match(r.forbidden ?? '', /RuntimeClass "gvisor" not found; create it or use one of: runc, vm-isolation/);
});

test('a VM class copies overhead, selector and tolerations, and sizes the VM', async () => {
  const p = pod({ runtimeClassName: 'kata-vm-isolation', nodeSelector: { zone: 'a' } });
  const r = await admitPod(p, lookup, names);
  assert.deepEqual(r.errors, []);
  const spec = p['spec'] as Record<string, unknown>;
  assert.deepEqual(spec['overhead'], { cpu: '100m', memory: '64Mi' });
  assert.deepEqual(spec['nodeSelector'], { zone: 'a', 'sandpod.io/vm-isolation': 'true' });
  assert.equal((spec['tolerations'] as unknown[]).length, 1);
  assert.equal(p.metadata.annotations?.[vmMemoryAnnotation], '512Mi');
  const sized = pod({ runtimeClassName: 'vm-isolation', containers: [{ name: 'a', image: 'x', resources: { limits: { memory: '1Gi' } } }, { name: 'b', image: 'x', resources: { limits: { memory: '256Mi' } } }] });
  await admitPod(sized, lookup, names);
  assert.equal(sized.metadata.annotations?.[vmMemoryAnnotation], '1280Mi');
});

test('VM pods may not use host namespaces, host devices or device plugins; privileged only warns', async () => {
  const r = await admitPod(pod({
    runtimeClassName: 'vm-isolation', hostNetwork: true, hostPID: true, hostIPC: true,
    volumes: [{ name: 'dev', hostPath: { path: '/dev/kvm', type: 'CharDevice' } }],
    containers: [{ name: 'c', image: 'x', securityContext: { privileged: true }, resources: { limits: { 'nvidia.com/gpu': '1', memory: '1Gi' } } }],
  }), lookup, names);
  assert.deepEqual(r.errors.map((e) => e.field), ['spec.hostNetwork', 'spec.hostPID', 'spec.hostIPC', 'spec.volumes[0].hostPath', 'spec.containers[0].resources.limits[nvidia.com/gpu]']);
  assert.ok(r.errors.every((e) => /run in their own VM/.test(e.detail)));
  assert.equal(r.warnings.length, 1);
  assert.match(r.warnings[0]!, /privileged grants power inside the pod's VM only/);
  const runc = await admitPod(pod({ runtimeClassName: 'runc', hostNetwork: true }), lookup, names);
  assert.deepEqual(runc.errors, []);
});

test('a pod overhead that differs from the class is refused, a selector conflict too', async () => {
  assert.match((await admitPod(pod({ runtimeClassName: 'vm-isolation', overhead: { memory: '1Mi' } }), lookup, names)).forbidden ?? '', /Overhead doesn't match/);
  assert.match((await admitPod(pod({ runtimeClassName: 'vm-isolation', nodeSelector: { 'sandpod.io/vm-isolation': 'false' } }), lookup, names)).forbidden ?? '', /conflict/);
});
