import { test } from 'node:test';
import assert from 'node:assert/strict';
import { aggregatedDiscovery, aggregatedDiscoveryVersion, apiGroupList, apiResourceList } from './discovery.js';
import { allResources } from './resources/index.js';

test('the Accept header picks aggregated discovery v2, v2beta1 or legacy', () => {
  const k130 = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json';
  assert.equal(aggregatedDiscoveryVersion(k130), 'v2');
  assert.equal(aggregatedDiscoveryVersion('application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json'), 'v2beta1');
  assert.equal(aggregatedDiscoveryVersion('application/json'), undefined);
});

test('aggregated and legacy discovery describe the same resources', () => {
  const core = aggregatedDiscovery(allResources, true, 'v2') as { items: Array<{ metadata: { name: string }; versions: Array<{ resources: Array<{ resource: string; scope: string; subresources: Array<{ subresource: string }> }> }> }> };
  assert.deepEqual(core.items.map((i) => i.metadata.name), ['']);
  const pods = core.items[0]!.versions[0]!.resources.find((r) => r.resource === 'pods')!;
  assert.equal(pods.scope, 'Namespaced');
  assert.deepEqual(pods.subresources.map((s) => s.subresource), ['status', 'binding', 'log', 'exec', 'attach', 'portforward']);
  const groups = aggregatedDiscovery(allResources, false, 'v2') as { items: Array<{ metadata: { name: string } }> };
  assert.deepEqual(groups.items.map((i) => i.metadata.name).sort(), ['authentication.k8s.io', 'authorization.k8s.io', 'coordination.k8s.io', 'metrics.k8s.io', 'networking.k8s.io', 'node.k8s.io']);
  const legacy = apiResourceList(allResources, { group: '', version: 'v1' }) as { resources: Array<{ name: string; namespaced: boolean }> };
  assert.ok(legacy.resources.some((r) => r.name === 'nodes' && !r.namespaced));
  assert.ok(legacy.resources.some((r) => r.name === 'pods/exec'));
});

test('configmaps, secrets and serviceaccounts are namespaced core resources with kube\'s short names', () => {
  const legacy = apiResourceList(allResources, { group: '', version: 'v1' }) as { resources: Array<{ name: string; namespaced: boolean; kind: string; shortNames?: string[] }> };
  const entry = (name: string): unknown => {
    const r = legacy.resources.find((x) => x.name === name);
    return r && { kind: r.kind, namespaced: r.namespaced, shortNames: r.shortNames ?? [] };
  };
  assert.deepEqual(entry('configmaps'), { kind: 'ConfigMap', namespaced: true, shortNames: ['cm'] });
  assert.deepEqual(entry('secrets'), { kind: 'Secret', namespaced: true, shortNames: [] });
  assert.deepEqual(entry('serviceaccounts'), { kind: 'ServiceAccount', namespaced: true, shortNames: ['sa'] });
});

test('review resources only offer create', () => {
  const list = apiResourceList(allResources, { group: 'authorization.k8s.io', version: 'v1' }) as { resources: Array<{ name: string; verbs: string[] }> };
  assert.deepEqual(list.resources.find((r) => r.name === 'selfsubjectaccessreviews')?.verbs, ['create']);
});

test('metrics.k8s.io is discovered as metrics-server serves it: get and list, pods namespaced, no singular names', () => {
  const legacy = apiGroupList(allResources) as { groups: Array<{ name: string; versions: Array<{ version: string }>; preferredVersion: { groupVersion: string } }> };
  const metrics = legacy.groups.find((g) => g.name === 'metrics.k8s.io');
  assert.deepEqual(metrics?.versions.map((v) => v.version), ['v1beta1'], 'what kubectl top looks for in the server\'s groups');
  assert.equal(metrics?.preferredVersion.groupVersion, 'metrics.k8s.io/v1beta1');
  assert.deepEqual(apiResourceList(allResources, { group: 'metrics.k8s.io', version: 'v1beta1' }), {
    kind: 'APIResourceList', apiVersion: 'v1', groupVersion: 'metrics.k8s.io/v1beta1',
    resources: [
      { name: 'nodes', singularName: '', namespaced: false, kind: 'NodeMetrics', verbs: ['get', 'list'] },
      { name: 'pods', singularName: '', namespaced: true, kind: 'PodMetrics', verbs: ['get', 'list'] },
    ],
  });
  const aggregated = aggregatedDiscovery(allResources, false, 'v2') as { items: Array<{ metadata: { name: string }; versions: Array<{ version: string; resources: Array<{ resource: string; scope: string; verbs: string[] }> }> }> };
  const group = aggregated.items.find((i) => i.metadata.name === 'metrics.k8s.io');
  assert.deepEqual(group?.versions.map((v) => [v.version, v.resources.map((r) => [r.resource, r.scope, r.verbs.join(',')])]), [
    ['v1beta1', [['nodes', 'Cluster', 'get,list'], ['pods', 'Namespaced', 'get,list']]],
  ]);
});
