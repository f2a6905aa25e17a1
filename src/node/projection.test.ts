import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, readlink, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePodSpec, type KubeObject } from '../kube/index.js';
import { writeAtomically } from './atomic-writer.js';
import { formatMap, resourceValue, type PodFacts } from './downward.js';
import { projectVolume, referencedObjects } from './projection.js';

const facts: PodFacts = { nodeName: 'n1', hostIP: '10.0.0.1', allocatable: { cpu: 2, memory: 2 ** 30, 'ephemeral-storage': 0 } };
const pod: KubeObject = {
  apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'ns', uid: 'u', labels: { tier: 'a b', app: 'web' } },
  spec: {
    containers: [{ name: 'c', image: 'x', resources: { limits: { cpu: '500m' } } }],
    volumes: [
      { name: 'cfg', configMap: { name: 'cm', items: [{ key: 'color', path: 'sub/colour', mode: 0o600 }] } },
      { name: 'all', configMap: { name: 'cm' } },
      { name: 'missing', configMap: { name: 'gone' } },
      { name: 'optional', secret: { secretName: 'gone', optional: true } },
      { name: 'badkey', configMap: { name: 'cm', items: [{ key: 'nope', path: 'x' }] } },
      { name: 'info', downwardAPI: { items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }, { path: 'cpu', resourceFieldRef: { containerName: 'c', resource: 'limits.cpu', divisor: '1m' } }] } },
      { name: 'mix', projected: { defaultMode: 0o400, sources: [{ configMap: { name: 'cm' } }, { secret: { name: 's' } }, { downwardAPI: { items: [{ path: 'name', fieldRef: { fieldPath: 'metadata.name' } }] } }] } },
    ],
  },
};
const spec = parsePodSpec(pod);
const buf = (s: string): Buffer => Buffer.from(s);
const sources = { configMap: (n: string) => (n === 'cm' ? { color: buf('blue'), size: buf('L') } : undefined), secret: (n: string) => (n === 's' ? { token: buf('t0k') } : undefined) };
const vol = (name: string) => spec.volumes!.find((v) => v.name === name)!;

test('configMap, secret, downwardAPI and projected volumes hold what kubelet would write', () => {
  const cfg = projectVolume(vol('cfg'), pod, spec, facts, sources)!;
  assert.deepEqual([...cfg], [['sub/colour', { data: buf('blue'), mode: 0o600 }]]);
  assert.deepEqual([...projectVolume(vol('all'), pod, spec, facts, sources)!.keys()], ['color', 'size']);
  assert.throws(() => projectVolume(vol('missing'), pod, spec, facts, sources), /MountVolume.SetUp failed for volume "missing" : configmap "gone" not found/);
  assert.equal(projectVolume(vol('optional'), pod, spec, facts, sources)!.size, 0);
  assert.throws(() => projectVolume(vol('badkey'), pod, spec, facts, sources), /configmap references non-existent config key: nope/);
  const info = projectVolume(vol('info'), pod, spec, facts, sources)!;
  assert.equal(info.get('labels')?.data.toString(), 'app="web"\ntier="a b"');
  assert.equal(info.get('cpu')?.data.toString(), '500');
  const mix = projectVolume(vol('mix'), pod, spec, facts, sources)!;
  assert.deepEqual([...mix.keys()], ['color', 'size', 'token', 'name']);
  assert.equal(mix.get('token')?.mode, 0o400);
  assert.deepEqual(referencedObjects(spec), { configMaps: new Set(['cm', 'gone']), secrets: new Set(['gone', 's']) });
});

test('downward API formats and rounding', () => {
  assert.equal(formatMap({ b: 'x"y', a: '1' }), 'a="1"\nb="x\\"y"');
  assert.equal(resourceValue({ resource: 'limits.cpu' }, spec, 'c', facts), '1', '500m in whole cores rounds up');
  assert.equal(resourceValue({ resource: 'limits.memory', divisor: '1Mi' }, spec, 'c', facts), '1024', 'no limit: node allocatable');
  assert.equal(resourceValue({ resource: 'requests.memory' }, spec, 'c', facts), '0');
});

test('the atomic writer swaps ..data, keeps unchanged contents, removes what went away', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sandpod-atomic-'));
  try {
    const files = new Map([['a', { data: buf('1'), mode: 0o644 }], ['sub/b', { data: buf('2'), mode: 0o600 }]]);
    assert.equal(await writeAtomically(dir, files), true);
    assert.equal(await readFile(join(dir, 'a'), 'utf8'), '1');
    assert.equal(await readFile(join(dir, 'sub/b'), 'utf8'), '2');
    assert.equal(await readlink(join(dir, 'a')), '..data/a');
    assert.equal((await stat(join(dir, 'sub/b'))).mode & 0o777, 0o600);
    const first = await readlink(join(dir, '..data'));
    assert.equal(await writeAtomically(dir, files), false, 'unchanged: not rewritten');
    assert.equal(await readlink(join(dir, '..data')), first);
    assert.equal(await writeAtomically(dir, new Map([['a', { data: buf('3'), mode: 0o644 }]])), true);
    assert.equal(await readFile(join(dir, 'a'), 'utf8'), '3');
    assert.notEqual(await readlink(join(dir, '..data')), first);
    assert.deepEqual((await readdir(dir)).filter((e) => !e.startsWith('..2')).sort(), ['..data', 'a']);
    assert.equal((await readdir(dir)).filter((e) => e.startsWith('..2')).length, 1, 'the old data directory is gone');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
