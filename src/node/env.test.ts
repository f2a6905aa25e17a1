import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePodSpec, type KubeObject } from '../kube/index.js';
import { ContainerConfigError, containerEnv, expand, expandCommand } from './env.js';
import type { PodFacts } from './downward.js';

const facts: PodFacts = { nodeName: 'n1', hostIP: '10.0.0.1', podIP: '10.244.0.7', allocatable: { cpu: 2, memory: 4 * 2 ** 30, 'ephemeral-storage': 0 } };
const data = (o: Record<string, string>): Record<string, Buffer> => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Buffer.from(v)]));
const sources = {
  configMap: (n: string) => (n === 'cm' ? data({ color: 'blue', size: 'L', 'bad=key': 'x' }) : undefined),
  secret: (n: string) => (n === 's' ? data({ password: 'hunter2' }) : undefined),
};
const podOf = (container: Record<string, unknown>): { pod: KubeObject; spec: ReturnType<typeof parsePodSpec> } => {
  const pod: KubeObject = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'ns', uid: 'u-1', labels: { app: 'web' }, annotations: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'x', ...container }] } };
  return { pod, spec: parsePodSpec(pod) };
};

test('$(VAR) expansion: known names, $$ escapes, unknown names kept', () => {
  const vars = new Map([['A', 'x'], ['B', 'y']]);
  assert.equal(expand('$(A)-$(B)-$(C)-$$(A)-$A-$', vars), 'x-y-$(C)-$(A)-$A-$');
  assert.equal(expand('$(A', vars), '$(A');
});

test('env from sources, the downward API and resources, in kubelet\'s order, with expansion', () => {
  const { pod, spec } = podOf({
    envFrom: [{ configMapRef: { name: 'cm' }, prefix: 'CM_' }],
    env: [
      { name: 'PASS', valueFrom: { secretKeyRef: { name: 's', key: 'password' } } },
      { name: 'COLOR', valueFrom: { configMapKeyRef: { name: 'cm', key: 'color' } } },
      { name: 'GREETING', value: 'hello $(COLOR) $(CM_size) $(MISSING)' },
      { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'APP', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
      { name: 'IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
      { name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
      { name: 'CPU', valueFrom: { resourceFieldRef: { resource: 'limits.cpu', divisor: '1m' } } },
      { name: 'MEM', valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor: '1Mi' } } },
      { name: 'OPT', valueFrom: { configMapKeyRef: { name: 'cm', key: 'nope', optional: true } } },
    ],
    resources: { limits: { memory: '256Mi' } },
    command: ['sh', '-c', 'echo $(GREETING)'],
    args: ['$(POD)'],
  });
  const { env, warnings } = containerEnv(pod, spec, spec.containers[0]!, facts, sources);
  const m = new Map(env);
  assert.equal(m.get('CM_color'), 'blue');
  assert.equal(m.get('PASS'), 'hunter2');
  assert.equal(m.get('GREETING'), 'hello blue L $(MISSING)');
  assert.equal(m.get('POD'), 'web');
  assert.equal(m.get('APP'), 'web');
  assert.equal(m.get('IP'), '10.244.0.7');
  assert.equal(m.get('NODE'), 'n1');
  assert.equal(m.get('CPU'), '2000', 'no CPU limit: the node allocatable, in millicores');
  assert.equal(m.get('MEM'), '256');
  assert.equal(m.has('OPT'), false);
  assert.equal(m.has('CM_bad=key'), false);
  assert.match(warnings[0] ?? '', /Keys \[bad=key\] from the EnvFrom configmap ns\/cm were skipped/);
  assert.deepEqual(expandCommand(spec.containers[0]!, env), { command: ['sh', '-c', 'echo hello blue L $(MISSING)'], args: ['web'] });
});

test('a missing ConfigMap, Secret or key is a CreateContainerConfigError in kubelet\'s words', () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'cm', key: 'nope' } } }] }, /^couldn't find key nope in ConfigMap ns\/cm$/],
    [{ env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 'other', key: 'k' } } }] }, /^secret "other" not found$/],
    [{ envFrom: [{ configMapRef: { name: 'gone' } }] }, /^configmap "gone" not found$/],
  ];
  for (const [c, re] of cases) {
    const { pod, spec } = podOf(c);
    assert.throws(() => containerEnv(pod, spec, spec.containers[0]!, facts, sources), (err: unknown) => err instanceof ContainerConfigError && re.test(err.message));
  }
  const { pod, spec } = podOf({ envFrom: [{ secretRef: { name: 'gone', optional: true } }] });
  assert.deepEqual(containerEnv(pod, spec, spec.containers[0]!, facts, sources).env, []);
});
