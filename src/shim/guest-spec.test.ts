import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  guestContainerSpec, guestDevices, isNamespacedSysctl, MEMORY_VOLUMES_ANNOTATION, memoryVolumeOf, memoryVolumes, planMounts, specSysctls,
} from './guest-spec.js';
import type { OciMount, OciSpec } from './oci.js';

const spec = (over: Partial<OciSpec>): OciSpec => ({ process: { args: ['sh'] }, ...over }) as OciSpec;
const bind = (destination: string, source: string, ro = false): OciMount => ({ destination, type: 'bind', source, options: ['rbind', 'rprivate', ro ? 'ro' : 'rw'] });
const pod = '/var/lib/node/pods/uid-1/volumes';
const rejects = (f: () => unknown, re: RegExp): void => assert.throws(f, (e: Error & { kind?: string; object?: string }) => e.kind === 'Invalid' && e.object === 'task/c1' && re.test(e.message));

test('the memory-volumes annotation parses to sizes by volume; a malformed one is refused, naming what is wrong', () => {
  const withAnnotation = (v: string): OciSpec => spec({ annotations: { [MEMORY_VOLUMES_ANNOTATION]: v } });
  assert.deepEqual([...memoryVolumes(withAnnotation('{"cache": 1048576, "scratch": 0}'), 'task/c1')], [['cache', 1048576], ['scratch', 0]]);
  assert.deepEqual([...memoryVolumes(spec({}), 'task/c1')], []);
  rejects(() => memoryVolumes(withAnnotation('{cache: 1}'), 'task/c1'), /is not JSON/);
  rejects(() => memoryVolumes(withAnnotation('{"cache": -1}'), 'task/c1'), /size limits in bytes.*cache/);
  rejects(() => memoryVolumes(withAnnotation('{"Bad_Name": 1}'), 'task/c1'), /DNS label/);
  rejects(() => memoryVolumes(withAnnotation('[1]'), 'task/c1'), /must map volume names/);
});

test('an emptyDir host path names a memory volume and its subPath only when the pod declares the volume', () => {
  const volumes = new Map([['cache', 0]]);
  assert.deepEqual(memoryVolumeOf(`${pod}/kubernetes.io~empty-dir/cache`, volumes, 'task/c1'), { volume: 'cache' });
  assert.deepEqual(memoryVolumeOf(`${pod}/kubernetes.io~empty-dir/cache/a/b/`, volumes, 'task/c1'), { volume: 'cache', subPath: 'a/b' });
  assert.equal(memoryVolumeOf(`${pod}/kubernetes.io~empty-dir/disk`, volumes, 'task/c1'), undefined, 'a disk-backed emptyDir stays a host bind');
  assert.equal(memoryVolumeOf('/etc/hosts', volumes, 'task/c1'), undefined);
  rejects(() => memoryVolumeOf(`${pod}/kubernetes.io~empty-dir/cache/../../x`, volumes, 'task/c1'), /leaves the volume/);
});

test('mount planning: memory volumes to the guest, host binds to the host, writable ones kept writable under a read-only root', () => {
  const mounts: OciMount[] = [
    { destination: '/proc', type: 'proc', source: 'proc' },
    bind('/etc/hosts', '/run/c/hosts', true),
    bind('/dev/shm', '/run/c/shm'),
    bind('/data', `${pod}/kubernetes.io~host-path/data`),
    bind('/cache', `${pod}/kubernetes.io~empty-dir/cache`),
    bind('/ro-cache', `${pod}/kubernetes.io~empty-dir/cache/sub`, true),
  ];
  const annotations = { [MEMORY_VOLUMES_ANNOTATION]: '{"cache": 4096}' };
  const plan = planMounts(spec({ mounts, annotations, root: { path: 'rootfs', readonly: true } }), 'task/c1');
  assert.deepEqual(plan.hostBinds.map((m) => m.destination), ['/etc/hosts', '/data']);
  assert.deepEqual(plan.guestTargets, ['/cache', '/ro-cache']);
  assert.deepEqual(plan.guest, [
    { kind: 'writable', destination: '/data' },
    { kind: 'memory', destination: '/cache', volume: 'cache', sizeBytes: 4096, readonly: false },
    { kind: 'memory', destination: '/ro-cache', volume: 'cache', sizeBytes: 4096, readonly: true, subPath: 'sub' },
  ]);
  const writableRoot = planMounts(spec({ mounts, annotations }), 'task/c1');
  assert.deepEqual(writableRoot.guest.map((m) => m.kind), ['memory', 'memory'], 'no writable mounts without a read-only root');
  assert.deepEqual(planMounts(spec({ mounts: [bind('/dev/shm', `${pod}/kubernetes.io~empty-dir/cache`)], annotations }), 'task/c1').guest.map((m) => m.destination), ['/dev/shm'],
    'a memory volume may replace the guest\'s /dev/shm');
});

test('mounts nested in a memory volume, or a memory volume nested in another volume, are refused', () => {
  const annotations = { [MEMORY_VOLUMES_ANNOTATION]: '{"cache": 0}' };
  rejects(() => planMounts(spec({ annotations, mounts: [bind('/cache', `${pod}/kubernetes.io~empty-dir/cache`), bind('/cache/conf', '/x')] }), 'task/c1'),
    /\/cache\/conf is mounted inside memory volume cache/);
  rejects(() => planMounts(spec({ annotations, mounts: [bind('/data', '/x'), bind('/data/cache', `${pod}/kubernetes.io~empty-dir/cache`)] }), 'task/c1'),
    /memory volume cache \(\/data\/cache\) is mounted inside the volume at \/data/);
  rejects(() => planMounts(spec({ annotations, mounts: [bind('/proc/x', `${pod}/kubernetes.io~empty-dir/cache`)] }), 'task/c1'), /provides \/proc and \/sys/);
});

test('only namespaced sysctls pass; a node-level one fails with what a pod may set', () => {
  for (const ok of ['net.ipv4.ip_unprivileged_port_start', 'net.core.somaxconn', 'kernel.shm_rmid_forced', 'kernel.msgmax', 'fs.mqueue.msg_max', 'net/ipv4/conf/eth0.1/forwarding']) assert.ok(isNamespacedSysctl(ok), ok);
  for (const no of ['vm.swappiness', 'kernel.pid_max', 'fs.file-max', 'kernel.shm_next_id_x', 'netfilter.x']) assert.ok(!isNamespacedSysctl(no), no);
  assert.deepEqual(specSysctls(spec({ linux: { sysctl: { 'net.core.somaxconn': '1024' } } }), 'task/c1'), { 'net.core.somaxconn': '1024' });
  assert.equal(specSysctls(spec({ linux: { sysctl: {} } }), 'task/c1'), undefined);
  rejects(() => specSysctls(spec({ linux: { sysctl: { 'vm.swappiness': '10' } } }), 'task/c1'), /sysctl vm\.swappiness is not namespaced.*net\.\*/);
  rejects(() => specSysctls(spec({ linux: { sysctl: { 'net.core.somaxconn': '1\n2' } } }), 'task/c1'), /net\.core\.somaxconn.*one line/);
});

test('a VM container gets no host device; the guest\'s own harmless ones are given, tun also to network admins', () => {
  const devices = (...d: [string, string, number, number][]): OciSpec['linux'] => ({ devices: d.map(([path, type, major, minor]) => ({ path, type, major, minor })) });
  assert.deepEqual(guestDevices(spec({ linux: devices(['/dev/null', 'c', 1, 3]) }), 'task/c1'), []);
  assert.deepEqual(guestDevices(spec({ linux: devices(['/dev/net/tun', 'c', 10, 200]) }), 'task/c1'), ['net/tun']);
  assert.deepEqual(guestDevices(spec({ process: { args: ['sh'], capabilities: { bounding: ['CAP_NET_ADMIN'] } } }), 'task/c1'), ['net/tun']);
  rejects(() => guestDevices(spec({ linux: devices(['/dev/vda', 'b', 254, 0]) }), 'task/c1'), /host device \/dev\/vda \(b 254:0\); a VM pod gets no host devices/);
  rejects(() => guestDevices(spec({ linux: devices(['/dev/mynull', 'c', 1, 3]) }), 'task/c1'), /host device \/dev\/mynull/);
  rejects(() => guestDevices(spec({ linux: devices(['/dev/null', 'c', 1, 1]) }), 'task/c1'), /host device \/dev\/null \(c 1:1\)/);
});

test('the guest container spec carries only what the spec asks', () => {
  const plain = spec({ mounts: [{ destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'ro'] }] });
  assert.deepEqual(guestContainerSpec(plain, planMounts(plain, 'task/c1'), 'task/c1'), {});
  const privileged = spec({ root: { path: 'rootfs', readonly: true }, mounts: [{ destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'rw'] }] });
  assert.deepEqual(guestContainerSpec(privileged, planMounts(privileged, 'task/c1'), 'task/c1'), { readonlyRoot: true, writableSysfs: true });
});

test('a host file below /dev (kubelet\'s termination log) is bound again over the guest\'s /dev; /proc and /sys binds are refused', () => {
  const plan = planMounts(spec({ mounts: [bind('/dev/termination-log', '/node/pods/u/containers/c/0'), bind('/dev/shm', '/run/c/shm'), bind('/dev/conf', '/x', true)] }), 'task/c1');
  assert.deepEqual(plan.hostBinds.map((m) => m.destination), ['/dev/termination-log', '/dev/conf']);
  assert.deepEqual(plan.guest, [{ kind: 'dev', destination: '/dev/termination-log', readonly: false }, { kind: 'dev', destination: '/dev/conf', readonly: true }],
    'containerd\'s sandbox /dev/shm is not carried in: the guest has its own');
  rejects(() => planMounts(spec({ mounts: [bind('/proc/sys/x', '/x')] }), 'task/c1'), /cannot be mounted at \/proc\/sys\/x in a VM pod/);
  rejects(() => planMounts(spec({ mounts: [bind('/dev', '/x')] }), 'task/c1'), /guest provides \/proc, \/sys and \/dev itself/);
});
