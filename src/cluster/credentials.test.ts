import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { defaultKubeconfigPath, mergeKubeconfig, type Credentials } from './credentials.js';

const dir = mkdtempSync(join(tmpdir(), 'sandpod-creds-'));
const creds = (token: string): Credentials => ({ context: 'myAKSCluster', user: 'clusterAdmin_myResourceGroup_myAKSCluster', server: 'https://127.0.0.1:6443', caData: 'Q0E=', token });

test('credentials merge into an existing kubeconfig beside its entries, replace their own names, and become current', (t) => {
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'nested', 'config');
  assert.deepEqual(mergeKubeconfig(file, creds('one')), { replaced: false });
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const other = join(dir, 'other');
  writeFileSync(other, 'apiVersion: v1\nkind: Config\nclusters:\n- name: prod\n  cluster: {server: "https://prod:443"}\nusers:\n- name: me\n  user: {token: t}\ncontexts:\n- name: prod\n  context: {cluster: prod, user: me}\ncurrent-context: prod\n');
  mergeKubeconfig(other, creds('one'));
  assert.deepEqual(mergeKubeconfig(other, creds('two')), { replaced: true });
  const doc = parse(readFileSync(other, 'utf8')) as { clusters: { name: string }[]; users: { name: string; user: { token: string } }[]; contexts: { name: string }[]; 'current-context': string };
  assert.deepEqual(doc.clusters.map((c) => c.name), ['prod', 'myAKSCluster']);
  assert.deepEqual(doc.users.map((u) => [u.name, u.user.token]), [['me', 't'], ['clusterAdmin_myResourceGroup_myAKSCluster', 'two']]);
  assert.equal(doc['current-context'], 'myAKSCluster');
  writeFileSync(join(dir, 'bad'), 'clusters: 7\n');
  assert.throws(() => mergeKubeconfig(join(dir, 'bad'), creds('x')), /is not a kubeconfig .*pass --file PATH/);
});

test('the default file is the first of $KUBECONFIG, else ~/.kube/config', () => {
  assert.equal(defaultKubeconfigPath({ KUBECONFIG: '/a/one:/b/two' }), '/a/one');
  assert.match(defaultKubeconfigPath({}), /\/\.kube\/config$/);
});
