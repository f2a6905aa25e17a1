import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../kube/index.js';
import { toTable } from '../table.js';
import { namespaces } from './namespaces.js';
import { fakeHooks } from './fake-hooks.js';
import { serviceAccounts } from './serviceaccounts.js';

test('a new namespace gets its default ServiceAccount', async () => {
  const ctx = fakeHooks();
  await namespaces.afterCreate?.({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-a' } }, ctx);
  assert.deepEqual(ctx.calls, [{ plural: 'serviceaccounts', names: ['default'], namespace: 'team-a' }]);
});

test('a deleted default ServiceAccount is made again; others stay deleted', async () => {
  const ctx = fakeHooks();
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
