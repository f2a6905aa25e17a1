import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildOpenApiV3 } from './openapi.js';
import { allResources } from './resources/index.js';

interface PatchOperation { 'x-kubernetes-group-version-kind': { kind: string }; parameters: Array<{ name: string }> }

test('every core kind kubectl creates has a PATCH operation with fieldValidation, so default validation passes', () => {
  const { index, documents } = buildOpenApiV3(allResources);
  assert.match((index as { paths: Record<string, { serverRelativeURL: string }> }).paths['api/v1']?.serverRelativeURL ?? '', /^\/openapi\/v3\/api\/v1\?hash=[0-9A-F]{64}$/);
  const doc = JSON.parse(documents.get('api/v1')?.body ?? '{}') as { paths: Record<string, { patch?: PatchOperation }> };
  for (const [plural, kind] of [['configmaps', 'ConfigMap'], ['secrets', 'Secret'], ['serviceaccounts', 'ServiceAccount'], ['pods', 'Pod']]) {
    const op = doc.paths[`/api/v1/namespaces/{namespace}/${plural}/{name}`]?.patch;
    assert.equal(op?.['x-kubernetes-group-version-kind'].kind, kind);
    assert.ok(op?.parameters.some((p) => p.name === 'fieldValidation'), kind);
  }
});
