import { test } from 'node:test';
import assert from 'node:assert/strict';
import { containerdOfShimDaemon, groupOfShimDaemon, sandboxIdFor, sandboxOfQemu, vmName } from './pod-vm-identity.js';

const podSandbox = 'f1c2d3e4a5b6978877665544332211000ffeeddccbbaa99887766554433221100';

test('a pod VM\'s QEMU is found by the -name its sandbox id gives it', () => {
  const name = vmName(sandboxIdFor(podSandbox));
  assert.equal(name, `sandpod-${podSandbox.slice(0, 24)}`);
  const qemu = ['qemu-system-x86_64', '-name', name, '-M', 'microvm', '-accel', 'tcg', '-m', '256M'];
  assert.equal(sandboxOfQemu(qemu), podSandbox.slice(0, 24));
  assert.equal(sandboxOfQemu(['/usr/bin/qemu-system-x86_64', `-name=${name}`]), podSandbox.slice(0, 24));
  assert.equal(sandboxOfQemu(['qemu-system-x86_64', '-name', 'someone-elses-vm']), undefined);
  assert.equal(sandboxOfQemu(['/usr/bin/node', 'qemu.js', '-name', name]), undefined, 'only QEMU itself');
  assert.equal(sandboxOfQemu(['qemu-system-x86_64', '-M', 'microvm']), undefined);
});

test('a pod\'s shim daemon is found by its -id; containerd\'s start and delete calls are not daemons', () => {
  const flags = ['-namespace', 'k8s.io', '-address', '/run/containerd.sock', '-publish-binary', '/usr/bin/containerd', '-id', podSandbox];
  const daemon = ['/usr/bin/node', '/repo/dist/src/shim/main.js', ...flags, '-socket', '/run/containerd/s/abc'];
  assert.equal(groupOfShimDaemon(daemon), podSandbox);
  assert.equal(groupOfShimDaemon(['/usr/local/bin/containerd-shim-sandpod-v2', ...flags, '-socket=/run/containerd/s/abc']), podSandbox);
  assert.equal(groupOfShimDaemon(['/usr/bin/node', '--enable-source-maps', '/repo/dist/src/shim/main.js', ...flags, 'start']), undefined);
  assert.equal(groupOfShimDaemon(['/usr/local/bin/containerd-shim-sandpod-v2', ...flags, 'delete']), undefined);
  assert.equal(groupOfShimDaemon(['/usr/bin/containerd-shim-runc-v2', ...flags, '-socket', '/s']), undefined, 'another runtime\'s shim');
  assert.equal(containerdOfShimDaemon(daemon), '/run/containerd.sock', 'the containerd a shim daemon serves');
  assert.equal(containerdOfShimDaemon(['/usr/local/bin/containerd-shim-sandpod-v2', ...flags.map((f) => (f === '/run/containerd.sock' ? 'unix:///run/containerd.sock' : f)), '-socket', '/s']), '/run/containerd.sock');
  assert.equal(containerdOfShimDaemon(['/usr/local/bin/containerd-shim-sandpod-v2', ...flags, 'delete']), undefined);
});
