import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { OciSpec } from './oci.js';
import { sandboxIdFor } from '../pod-vm-identity.js';
import { CRI, groupOf, kindOf } from './pod-layout.js';
import { networkNamespace, podVmSize, refuseHostNamespaces } from './pods.js';

const spec = (over: Partial<OciSpec>): OciSpec => ({ process: { args: ['sh'] }, ...over }) as OciSpec;
const criHex = 'a'.repeat(40) + '0123456789abcdef01234567';

test('tasks group by the CRI sandbox id, else each is its own group', () => {
  const app = spec({ annotations: { [CRI.containerType]: 'container', [CRI.sandboxId]: 'pod1' } });
  assert.equal(groupOf(app, 'c1'), 'pod1');
  assert.equal(kindOf(app), 'container');
  assert.equal(kindOf(spec({ annotations: { [CRI.containerType]: 'sandbox', [CRI.sandboxId]: 'pod1' } })), 'sandbox');
  assert.equal(groupOf(spec({}), 'solo'), 'solo');
  assert.equal(kindOf(spec({})), 'container');
});

test('a pod VM is sized from the sandbox annotations, a lone container from its resources, 512Mi by default', () => {
  const sandbox = spec({ annotations: { [CRI.containerType]: 'sandbox', [CRI.cpuQuota]: '150000', [CRI.cpuPeriod]: '100000', [CRI.memory]: String(256 * 2 ** 20) } });
  assert.deepEqual(podVmSize(sandbox, 'sandbox', 't'), { cpus: 2, memoryMiB: 256 });
  assert.deepEqual(podVmSize(spec({}), 'sandbox', 't'), { cpus: 1, memoryMiB: 512 });
  const lone = spec({ linux: { resources: { cpu: { quota: 300000, period: 100000 }, memory: { limit: 2 ** 30 } } } });
  assert.deepEqual(podVmSize(lone, 'container', 't'), { cpus: 3, memoryMiB: 1024 });
  assert.deepEqual(podVmSize(spec({ linux: { resources: { cpu: { quota: -1, period: 100000 } } } }), 'container', 't'), { cpus: 1, memoryMiB: 512 });
  assert.throws(() => podVmSize(spec({ annotations: { [CRI.memory]: String(64 * 2 ** 20) } }), 'sandbox', 'task/x'), (e: Error & { object?: string }) => e.object === 'task/x' && /at least 128Mi/.test(e.message));
});

test('sandbox ids stay short enough for socket paths and distinct for distinct long ids', () => {
  assert.equal(sandboxIdFor('t1'), 't1');
  assert.equal(sandboxIdFor('My_Task'), 'my_task');
  assert.equal(sandboxIdFor(criHex), criHex.slice(0, 24));
  const long1 = sandboxIdFor('a-rather-long-container-name-one');
  const long2 = sandboxIdFor('a-rather-long-container-name-two');
  assert.ok(long1.length <= 24 && long2.length <= 24);
  assert.notEqual(long1, long2);
});

test('only a network namespace with a path is a pod network', () => {
  assert.equal(networkNamespace(spec({ linux: { namespaces: [{ type: 'network' }] } })), undefined);
  assert.equal(networkNamespace(spec({ linux: { namespaces: [{ type: 'pid' }, { type: 'network', path: '/var/run/netns/cni-1' }] } })), '/var/run/netns/cni-1');
});

test('a CRI pod sharing the node\'s namespaces is refused with the reason', () => {
  const ns = (...types: string[]) => types.map((type) => (type.includes('=') ? { type: type.split('=')[0]!, path: type.split('=')[1]! } : { type }));
  const sandbox = (...types: string[]) => spec({ annotations: { [CRI.containerType]: 'sandbox' }, linux: { namespaces: ns(...types) } });
  const container = (...types: string[]) => spec({ annotations: { [CRI.containerType]: 'container' }, linux: { namespaces: ns(...types) } });
  assert.doesNotThrow(() => refuseHostNamespaces(sandbox('network=/run/netns/x', 'ipc', 'pid', 'uts', 'mount'), 't'));
  assert.throws(() => refuseHostNamespaces(sandbox('ipc', 'pid'), 't'), /node's network namespace \(hostNetwork\)/);
  assert.throws(() => refuseHostNamespaces(sandbox('network=/n', 'pid'), 't'), /hostIPC/);
  assert.throws(() => refuseHostNamespaces(sandbox('network=/n', 'ipc'), 't'), /hostPID/);
  assert.doesNotThrow(() => refuseHostNamespaces(container('network=/proc/1/ns/net', 'ipc=/proc/1/ns/ipc', 'pid'), 't'));
  assert.doesNotThrow(() => refuseHostNamespaces(container('network=/proc/1/ns/net', 'ipc=/proc/1/ns/ipc', 'pid=/proc/1/ns/pid'), 't'), 'the pod\'s PID namespace: one of its own in the VM');
  assert.throws(() => refuseHostNamespaces(container('network=/proc/1/ns/net', 'ipc=/proc/1/ns/ipc'), 't'), /hostPID/);
  assert.doesNotThrow(() => refuseHostNamespaces(spec({ linux: { namespaces: ns('mount') } }), 't'), 'ctr run is not CRI');
});
