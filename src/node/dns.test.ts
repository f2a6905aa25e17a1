import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PodSpec } from '../kube/index.js';
import { parseResolvConf, podDnsConfig } from './dns.js';
import { pullAuth, registryOf } from './pull-auth.js';

const node = parseResolvConf('# generated\nnameserver 10.0.0.2\nnameserver 10.0.0.3\nsearch corp.example\noptions edns0 ndots:2\n');
const spec = (s: Partial<PodSpec>): PodSpec => ({ containers: [], ...s });

test('resolv.conf parsing', () => {
  assert.deepEqual(node, { servers: ['10.0.0.2', '10.0.0.3'], searches: ['corp.example'], options: ['edns0', 'ndots:2'] });
});

test('DNS policies as kubelet applies them', () => {
  assert.deepEqual(podDnsConfig(spec({ dnsPolicy: 'Default' }), 'ns', node, undefined), { config: node, missingClusterDns: false });
  assert.deepEqual(podDnsConfig(spec({}), 'ns', node, undefined), { config: node, missingClusterDns: true }, 'ClusterFirst without cluster DNS falls back');
  const cluster = podDnsConfig(spec({}), 'ns', node, { servers: ['10.96.0.10'], domain: 'cluster.local' }).config;
  assert.deepEqual(cluster, { servers: ['10.96.0.10'], searches: ['ns.svc.cluster.local', 'svc.cluster.local', 'cluster.local', 'corp.example'], options: ['ndots:5'] });
  const none = podDnsConfig(spec({ dnsPolicy: 'None', dnsConfig: { nameservers: ['1.2.3.4'], searches: ['a.b'], options: [{ name: 'ndots', value: '1' }, { name: 'edns0' }] } }), 'ns', node, undefined).config;
  assert.deepEqual(none, { servers: ['1.2.3.4'], searches: ['a.b'], options: ['ndots:1', 'edns0'] });
  const merged = podDnsConfig(spec({ dnsPolicy: 'Default', dnsConfig: { options: [{ name: 'ndots', value: '3' }] } }), 'ns', node, undefined).config;
  assert.deepEqual(merged.options, ['edns0', 'ndots:3']);
});

test('image pull credentials from a dockerconfigjson secret for the image\'s registry', () => {
  assert.equal(registryOf('busybox'), 'docker.io');
  assert.equal(registryOf('sandpod.local/pause:3.9'), 'sandpod.local');
  const secret = { '.dockerconfigjson': Buffer.from(JSON.stringify({ auths: {
    'https://index.docker.io/v1/': { auth: Buffer.from('me:pw:with:colons').toString('base64') },
    'registry.example:5000': { username: 'u', password: 'p' },
  } })) };
  assert.deepEqual(pullAuth('busybox:1', [undefined, secret]), { username: 'me', password: 'pw:with:colons', server_address: 'https://index.docker.io/v1/' });
  assert.deepEqual(pullAuth('registry.example:5000/app', [secret]), { username: 'u', password: 'p', server_address: 'registry.example:5000' });
  assert.equal(pullAuth('quay.io/x/y', [secret]), undefined);
});
