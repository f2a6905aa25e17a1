import { test } from 'node:test';
import assert from 'node:assert/strict';
import { absoluteImports, addImport, configVersion, criSections, dropInText, handlerSections, importsOf, removeImport, topLevelStrings } from './containerd-config.js';
import { configOfArgv, unitOfCgroup } from './restart.js';
import { nodeVersionOk, parseContainerdVersion } from './probe.js';

const dump = `disabled_plugins = []
imports = ["/etc/containerd/config.toml"]
version = 2

[grpc]
  address = "/run/containerd/containerd.sock"

[plugins]

  [plugins."io.containerd.gc.v1.scheduler"]
    deletion_threshold = 0

  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "registry.k8s.io/pause:3.6"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.sandpod-vm]
      runtime_type = "stale"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.sandpod-vm.options]

  [plugins."io.containerd.internal.v1.opt"]
    path = "/opt/containerd"
`;

test('the CRI sections of a dump, without the handler\'s own', () => {
  const cri = criSections(dump, 'sandpod-vm');
  assert.match(cri, /sandbox_image = "registry.k8s.io\/pause:3.6"/);
  assert.match(cri, /runtimes\.runc\]\n {6}runtime_type = "io.containerd.runc.v2"/);
  assert.doesNotMatch(cri, /sandpod-vm|stale|gc\.v1|internal\.v1\.opt/);
  assert.match(handlerSections(dump, 'sandpod-vm'), /runtime_type = "stale"[\s\S]*sandpod-vm\.options/);
  assert.deepEqual(topLevelStrings(dump, 'imports'), ['/etc/containerd/config.toml']);
  assert.deepEqual(topLevelStrings(dump, 'disabled_plugins'), []);
});

test('the drop-in: the node\'s CRI section and Sandpod\'s handler', () => {
  const text = dropInText(dump, { handler: 'sandpod-vm', shimPath: '/opt/sandpod/1/bin/containerd-shim-sandpod-v2' }, 'header');
  assert.match(text, /^# header\n/);
  assert.match(text, /^version = 2$/m);
  assert.match(text, /sandbox_image = "registry.k8s.io\/pause:3.6"/);
  assert.equal(text.match(/runtimes\.sandpod-vm\]/g)?.length, 1, 'the stale handler is replaced');
  for (const line of ['runtime_type = "/opt/sandpod/1/bin/containerd-shim-sandpod-v2"', 'privileged_without_host_devices = true',
    'pod_annotations = ["sandpod.io/*"]', 'container_annotations = ["sandpod.io/*"]']) assert.ok(text.includes(line), line);
});

test('an import is added and taken out again byte for byte', () => {
  const cases = [
    'version = 2\nroot = "/x"\n[grpc]\n  address = "/s"\n',
    'version = 2\nimports = []\n[grpc]\n',
    'version = 2\nimports = ["a.toml", \'/etc/b/*.toml\'] # theirs\n[grpc]\n',
    '# comment\nversion = 2\nimports = [\n  "a.toml", # one\n  "b.toml",\n]\n[plugins."x"]\n  imports = ["not top level"]\n',
  ];
  for (const text of cases) {
    const { text: added, edit } = addImport(text, '/etc/containerd/sandpod/sandpod-vm.toml');
    assert.ok(edit, text);
    assert.ok(importsOf(added).includes('/etc/containerd/sandpod/sandpod-vm.toml'), added);
    assert.deepEqual(importsOf(added).slice(0, -1), importsOf(text), 'the operator\'s imports stay, in order');
    assert.equal(addImport(added, '/etc/containerd/sandpod/sandpod-vm.toml').edit, undefined, 'a second add changes nothing');
    assert.equal(removeImport(added, edit), text);
    assert.equal(removeImport(text, edit), text, 'removing what is not there changes nothing');
  }
});

test('relative imports are made absolute and Sandpod\'s left out for a dump from elsewhere', () => {
  const text = 'version = 2\nimports = ["conf.d/*.toml", "/abs.toml", "/etc/containerd/sandpod/sandpod-vm.toml"]\n';
  assert.equal(absoluteImports(text, '/etc/containerd', '/etc/containerd/sandpod/sandpod-vm.toml'), 'version = 2\nimports = ["/etc/containerd/conf.d/*.toml", "/abs.toml"]\n');
  assert.equal(configVersion(text), 2);
  assert.equal(configVersion('root = "/x"\n[plugins.cri]\nversion = 2\n'), 1, 'no top-level version: version 1');
  assert.throws(() => importsOf('version = 2\nimports = "x"\n'), /not an array of strings/);
});

test('node facts: versions, the config a containerd reads, its systemd unit', () => {
  assert.deepEqual(parseContainerdVersion('containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3'), { version: '1.6.20~ds1', supported: true });
  assert.equal(parseContainerdVersion('containerd containerd.io v1.7.13 7c3aca7')?.supported, true);
  assert.equal(parseContainerdVersion('containerd github.com/containerd/containerd/v2 v2.0.0 abc')?.supported, false);
  assert.ok(nodeVersionOk('v20.15.0') && nodeVersionOk('v22.1.0'));
  assert.ok(!nodeVersionOk('v20.14.9') && !nodeVersionOk('v18.19.0'));
  assert.equal(configOfArgv(['/usr/bin/containerd']), '/etc/containerd/config.toml');
  assert.equal(configOfArgv(['containerd', '--config', '/x.toml', '--log-level', 'warn']), '/x.toml');
  assert.equal(configOfArgv(['containerd', '-c', '/y.toml']), '/y.toml');
  assert.equal(configOfArgv(['containerd', '--config=/z.toml']), '/z.toml');
  assert.equal(unitOfCgroup('0::/system.slice/containerd.service\n'), 'containerd.service');
  assert.equal(unitOfCgroup('0::/user.slice/session-1.scope\n'), undefined);
});
