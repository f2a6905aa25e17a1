import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { VM_ISOLATION_LABEL, VM_POD_OVERHEAD } from '../kube/runtime-classes.js';
import { installerObjects, manifestsYaml, runtimeClasses } from './manifests.js';

const objects = [...runtimeClasses('sandpod-vm'), ...installerObjects({ handler: 'sandpod-vm', image: 'registry.example/sandpod-installer:0.1.0-abc', installArgs: ['--accel', 'kvm'] })];

test('the RuntimeClasses: Sandpod\'s name and the AKS ones, on the nodes AKS labels, with the measured overhead', () => {
  const docs = parseAllDocuments(manifestsYaml(objects)).map((d) => d.toJS() as Record<string, any>);
  const classes = docs.filter((d) => d['kind'] === 'RuntimeClass');
  assert.deepEqual(classes.map((c) => c['metadata'].name), ['vm-isolation', 'kata-vm-isolation', 'kata-mshv-vm-isolation']);
  for (const c of classes) {
    assert.equal(c['apiVersion'], 'node.k8s.io/v1');
    assert.equal(c['handler'], 'sandpod-vm');
    assert.deepEqual(c['scheduling'].nodeSelector, { [VM_ISOLATION_LABEL]: 'true' });
    assert.deepEqual(c['overhead'].podFixed, VM_POD_OVERHEAD);
  }
  const ds = docs.find((d) => d['kind'] === 'DaemonSet');
  const pod = ds?.['spec'].template.spec;
  assert.equal(ds?.['metadata'].namespace, 'sandpod-system');
  assert.deepEqual(pod.containers[0].args, ['--handler', 'sandpod-vm', '--accel', 'kvm']);
  assert.equal(pod.automountServiceAccountToken, false, 'the installer has no API access');
  assert.deepEqual(docs.map((d) => d['kind']), ['RuntimeClass', 'RuntimeClass', 'RuntimeClass', 'Namespace', 'ServiceAccount', 'DaemonSet']);
});

test('kubectl decodes the manifests (kustomize, offline)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sandpod-manifests-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'sandpod.yaml'), manifestsYaml(objects));
  await writeFile(join(dir, 'kustomization.yaml'), 'resources:\n  - sandpod.yaml\n');
  const out = await promisify(execFile)('kubectl', ['kustomize', dir]).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') { t.skip('kubectl is not installed'); return undefined; }
    throw err;
  });
  if (!out) return;
  const kinds = parseAllDocuments(out.stdout).map((d) => `${(d.toJS() as { kind: string }).kind}/${(d.toJS() as { metadata: { name: string } }).metadata.name}`);
  assert.deepEqual(kinds.sort(), ['DaemonSet/sandpod-installer', 'Namespace/sandpod-system', 'RuntimeClass/kata-mshv-vm-isolation', 'RuntimeClass/kata-vm-isolation', 'RuntimeClass/vm-isolation', 'ServiceAccount/sandpod-installer']);
});
