import { test } from 'node:test';
import assert from 'node:assert/strict';
import { containerdConfig, registryHostsToml } from './containerd.js';

test('with CRI and a registry, the config names both runtime handlers and points pulls at hosts.toml', () => {
  const config = containerdConfig({ dir: '/x/c', cri: { sandboxImage: 'sandpod.local/pause:3.9', cniConfDir: '/x/net.d' }, registry: 'http://127.0.0.1:5999' });
  assert.match(config, /^version = 2$/m);
  assert.match(config, /^root = "\/x\/c\/root"$/m);
  assert.doesNotMatch(config, /disabled_plugins/);
  assert.match(config, /^ {2}sandbox_image = "sandpod\.local\/pause:3\.9"$/m);
  assert.match(config, /runtimes\.runc\]\n {2}runtime_type = "io\.containerd\.runc\.v2"\n.*runtimes\.runc\.options\]\n {2}Root = "\/x\/c\/runc"/);
  assert.match(config, /runtimes\.sandpod-vm\]\n {2}runtime_type = "io\.containerd\.sandpod\.v2"\n {2}privileged_without_host_devices = true\n {2}pod_annotations = \["sandpod\.io\/\*"\]\n {2}container_annotations = \["sandpod\.io\/\*"\]\n/);
  assert.equal(config.match(/privileged_without_host_devices/g)?.length, 1, 'runc keeps the host devices of privileged containers');
  assert.match(config, /^ {2}restrict_oom_score_adj = true$/m);
  assert.match(config, /^ {2}conf_dir = "\/x\/net\.d"$/m);
  assert.match(config, /registry\]\n {2}config_path = "\/x\/c\/certs\.d"$/m);
  assert.doesNotMatch(config, /mirrors/, 'mirrors fall back to the real host; hosts.toml does not');
  assert.match(config, /gc\.v1\.scheduler"\]\n {2}deletion_threshold = 1$/m, "a removed pod's snapshots are collected at once");
});

test('without CRI the plugin is disabled and no registry section is written', () => {
  const config = containerdConfig({ dir: '/x/c' });
  assert.match(config, /^disabled_plugins = \["io\.containerd\.grpc\.v1\.cri"\]$/m);
  assert.doesNotMatch(config, /sandbox_image|config_path/);
  assert.match(config, /^ {2}address = "\/x\/c\/containerd\.sock"$/m);
});

test('a mirrored host sends pulls only to the local registry, and has the host table containerd 1.6 requires', () => {
  assert.equal(registryHostsToml('http://127.0.0.1:5999'), 'server = "http://127.0.0.1:5999"\n\n[host."http://127.0.0.1:5999"]\n  capabilities = ["pull", "resolve"]\n');
});
