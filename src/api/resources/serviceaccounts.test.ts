import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../kube/index.js';
import { toTable } from '../table.js';
import { namespaces } from './namespaces.js';
import type { HookContext, ResourceDef } from './resource.js';
import { serviceAccounts } from './serviceaccounts.js';

/** Records what hooks ask the registry to ensure. */
function recorder(): HookContext & { calls: Array<{ plural: string; names: string[]; namespace: string | undefined }> } {
  const calls: Array<{ plural: string; names: string[]; namespace: string | undefined }> = [];
  return {
    calls,
    ensure: (def: ResourceDef, objects: KubeObject[], namespace?: string) => {
      calls.push({ plural: def.plural, names: objects.map((o) => o.metadata.name ?? ''), namespace });
      return Promise.resolve();
    },
  };
}

test('a new namespace gets its default ServiceAccount', async () => {
  const ctx = recorder();
  await namespaces.afterCreate?.({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-a' } }, ctx);
  assert.deepEqual(ctx.calls, [{ plural: 'serviceaccounts', names: ['default'], namespace: 'team-a' }]);
});

test('a deleted default ServiceAccount is made again; others stay deleted', async () => {
  const ctx = recorder();
  const sa = (name: string): KubeObject => ({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: 'team-a' } });
  await serviceAccounts.afterDelete?.(sa('builder'), ctx);
  assert.deepEqual(ctx.calls, []);
  await serviceAccounts.afterDelete?.(sa('default'), ctx);
  assert.deepEqual(ctx.calls, [{ plural: 'serviceaccounts', names: ['default'], namespace: 'team-a' }]);
});

test('the table has NAME, SECRETS, AGE', () => {
  const table = toTable(serviceAccounts, [{ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default' } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'ci' }, secrets: [{ name: 'a' }, { name: 'b' }] }], { include: 'None' });
  assert.deepEqual(table.columnDefinitions.map((c) => c.name), ['Name', 'Secrets', 'Age']);
  assert.deepEqual(table.rows.map((r) => r.cells.slice(0, 2)), [['default', 0], ['ci', 2]]);
});
