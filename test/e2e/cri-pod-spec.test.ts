/**
 * What a pod's containers ask of the runtime, through containerd's CRI, honoured inside the VM for sandpod-vm
 * pods, and still honoured by runc: privileged containers (the VM's capabilities, network administration
 * with modules loaded on demand, mounts, a writable /sys; no host device, the minimal /dev), a read-only
 * root with writable volumes, the pod's sysctls, pod memory volumes shared by its containers, users and
 * groups, and a pod that outlives an init container. One privileged VM pod carries most of it.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Input, LinuxContainerSecurityContext, Mount } from '../../src/cri/index.js';
import { BUSYBOX_IMAGE, NETTOOLS_IMAGE, nettoolsImageArchive } from '../../src/images/index.js';
import { resolvePaths } from '../../src/paths.js';
import { waitUntil } from '../../src/wait.js';
import { criTestContext, shellIn, createTestContainer, removeTestPod, runTestPod, startTestContainer, waitContainerState, type TestPod } from './cri-helpers.js';
import { processesWhere, shimEnvironment } from './helpers.js';

// Ready before the frame's hooks run (root-level hooks do not wait for each other).
const roots = mkdtempSync(join(tmpdir(), 'sandpod-e2e-pod-spec-roots-'));
const env = await shimEnvironment(roots);
const ctx = criTestContext('pod-spec', { env, images: [await nettoolsImageArchive(resolvePaths())] });
after(() => rm(roots, { recursive: true, force: true }));

const { ok, fails } = shellIn(ctx);

interface BundleSpec { linux?: { devices?: { path: string; type: string }[] }; mounts?: { destination: string; options?: string[] }[] }
/** The OCI spec containerd gave the runtime for a task (its bundle's config.json). */
const bundleSpec = async (id: string): Promise<BundleSpec> =>
  JSON.parse(await readFile(join(ctx.containerd.base, 'state', 'io.containerd.runtime.v2.task', 'k8s.io', id, 'config.json'), 'utf8'));
const sysfsOptions = (spec: BundleSpec): string[] => spec.mounts?.find((m) => m.destination === '/sys')?.options ?? [];

/** Effective capabilities of a container's process, as a bit mask. */
const capEff = async (id: string): Promise<bigint> => BigInt(`0x${/CapEff:\s+([0-9a-f]+)/.exec(await ok(id, 'cat /proc/self/status'))?.[1]}`);
const CAP_NET_ADMIN = 1n << 12n;
const CAP_SYS_ADMIN = 1n << 21n;

const privileged: Input<LinuxContainerSecurityContext> = { privileged: true };
const MiB = 2 ** 20;

/**
 * containerd runs `containerd-shim-sandpod-v2 delete` for a task whose connection closed, in the background
 * after RemoveContainer: waits until it has logged that and no such process for `id` runs any more.
 */
async function shimDeleteRan(id: string): Promise<void> {
  const log = join(ctx.containerd.base, 'containerd.log');
  await waitUntil(async () => {
    const logged = (await readFile(log, 'utf8')).split('\n').some((l) => l.includes('cleaning up after shim disconnected') && l.includes(id));
    const running = await processesWhere((cmd) => cmd.includes('containerd-shim-sandpod-v2') && cmd.includes(`\0${id}\0`) && cmd.endsWith('\0delete\0'));
    return logged && running.length === 0 ? true : undefined;
  }, { timeoutMs: 20_000, intervalMs: 100, onTimeout: () => new Error(`containerd did not run the shim's delete for ${id} (see ${log})`) });
}

/** Host directories standing for a pod's volumes: `<pods>/<pod>/volumes/<plugin>/<name>`, as kubelet lays them out. */
async function volumeDir(pod: string, plugin: string, name: string): Promise<string> {
  const dir = join(ctx.base, 'volumes', pod, 'volumes', plugin, name);
  await mkdir(dir, { recursive: true });
  return dir;
}

const filesUnder = async (dir: string): Promise<string[]> =>
  (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => !e.isDirectory()).map((e) => e.name);

test('a VM pod outlives its init container: A runs, exits, is stopped and removed, then B starts in the same VM', async () => {
  const pod = await runTestPod(ctx, 'initflow', 'sandpod-vm');
  const a = await createTestContainer(ctx, pod, { name: 'init', command: ['sh', '-c', 'echo init done'] });
  await ctx.cri.startContainer({ container_id: a });
  assert.equal((await waitContainerState(ctx.cri, a, ['CONTAINER_EXITED'])).exit_code, 0);
  await ctx.cri.stopContainer({ container_id: a, timeout: 2 });
  await ctx.cri.removeContainer({ container_id: a });
  await shimDeleteRan(a);
  const b = await createTestContainer(ctx, pod, { name: 'app', command: ['sleep', '1000'] });
  await ctx.cri.startContainer({ container_id: b });
  await waitContainerState(ctx.cri, b, ['CONTAINER_RUNNING']);
  assert.equal(await ok(b, 'echo alive'), 'alive\n');
  await removeTestPod(ctx, pod.id);
});

test('a signal to a task that has already exited succeeds', async () => {
  // CRI deletes a container's task as soon as it exits; a task of ctr's stays until it is deleted.
  const ctr = ctx.containerd.ctr;
  try {
    await ctr(['run', '-d', '--runtime', 'io.containerd.sandpod.v2', BUSYBOX_IMAGE, 'exited', 'true']);
    await waitUntil(async () => (/^exited\s+\d+\s+STOPPED/m.test((await ctr(['task', 'ls'])).stdout) ? true : undefined),
      { timeoutMs: 60_000, intervalMs: 200, onTimeout: () => new Error('the task did not stop') });
    await ctr(['task', 'kill', '-s', 'SIGKILL', 'exited']);
    await ctr(['task', 'kill', '-s', 'SIGTERM', 'exited']);
  } finally {
    await ctr(['task', 'rm', '-f', 'exited']).catch(() => undefined);
    await ctr(['container', 'rm', 'exited']).catch(() => undefined);
  }
});

test('a sandbox whose sysctls the VM cannot honour fails with what is wrong', async () => {
  await assert.rejects(runTestPod(ctx, 'nodelevel', 'sandpod-vm', undefined, { sysctls: { 'vm.swappiness': '10' } }),
    /sysctl vm\.swappiness is not namespaced/);
  await assert.rejects(runTestPod(ctx, 'unknownknob', 'sandpod-vm', undefined, { sysctls: { 'net.ipv4.no_such_knob': '1' } }),
    /sysctl net\.ipv4\.no_such_knob does not exist in the guest kernel/);
});

/** What the runc test saw, for the VM test to compare with. */
const runcIds: string[] = [];
const runcCaps: bigint[] = [];

test('runc keeps honouring privileged, read-only roots and users', async () => {
  const pod = await runTestPod(ctx, 'runcspec', 'runc', undefined, { privileged: true });
  const data = await volumeDir(pod.id, 'kubernetes.io~host-path', 'data');
  const priv = await startTestContainer(ctx, pod, { name: 'priv', image: NETTOOLS_IMAGE, command: ['sleep', '1000'], securityContext: privileged });
  assert.ok(((await bundleSpec(priv)).linux?.devices ?? []).some((d) => d.type === 'b'), 'runc\'s privileged containers get the host\'s devices');
  assert.equal((await capEff(priv)) & (CAP_NET_ADMIN | CAP_SYS_ADMIN), CAP_NET_ADMIN | CAP_SYS_ADMIN);
  await ok(priv, 'mkdir -p /mnt && mount -t tmpfs none /mnt && umount /mnt && ip link add br0 type bridge');
  assert.ok(sysfsOptions(await bundleSpec(priv)).includes('rw'), 'the privileged spec asks for a writable /sys');
  const ro = await startTestContainer(ctx, pod, {
    name: 'ro', command: ['sleep', '1000'], securityContext: { readonly_rootfs: true },
    mounts: [{ container_path: '/data', host_path: data }],
  });
  await fails(ro, 'touch /x', /Read-only file system/);
  await ok(ro, 'touch /data/from-runc && touch /dev/shm/x && cat /proc/self/status >/dev/null');
  const users = await startTestContainer(ctx, pod, {
    name: 'users', command: ['sleep', '1000'],
    securityContext: { run_as_user: { value: 1000 }, run_as_group: { value: 3000 }, supplemental_groups: [4000, 5000], no_new_privs: true },
  });
  runcIds.push(await ok(users, 'id; grep NoNewPrivs /proc/self/status'));
  runcCaps.push(await capEff(priv));
  await removeTestPod(ctx, pod.id);
});

test('a privileged VM pod: its containers get the VM, never the host, and the rest of the spec is honoured in the guest', async () => {
  const memoryVolumes = { shared: MiB, big: 0 };
  const pod: TestPod = await runTestPod(ctx, 'vmspec', 'sandpod-vm', undefined, {
    privileged: true,
    sysctls: { 'net.ipv4.ip_unprivileged_port_start': '80', 'kernel.shm_rmid_forced': '1', 'net.core.somaxconn': '1024' },
    annotations: { 'sandpod.io/memory-volumes': JSON.stringify(memoryVolumes), 'other.io/ignored': 'x' },
  });
  const emptyDir = async (name: string): Promise<string> => volumeDir(pod.id, 'kubernetes.io~empty-dir', name);
  const [shared, big, data, conf] = [await emptyDir('shared'), await emptyDir('big'), await volumeDir(pod.id, 'kubernetes.io~host-path', 'data'), await volumeDir(pod.id, 'kubernetes.io~configmap', 'conf')];
  const mount = (container_path: string, host_path: string, readonly = false): Input<Mount> => ({ container_path, host_path, readonly });

  // Privileged: the VM's capabilities, devices and kernel, nothing of the host.
  const priv = await startTestContainer(ctx, pod, { name: 'priv', image: NETTOOLS_IMAGE, command: ['sleep', '1000'], securityContext: privileged });
  assert.deepEqual((await bundleSpec(priv)).linux?.devices ?? [], [], 'containerd gave the privileged VM container no host device');
  const caps = await capEff(priv);
  assert.equal(caps & (CAP_NET_ADMIN | CAP_SYS_ADMIN), CAP_NET_ADMIN | CAP_SYS_ADMIN);
  assert.equal(caps, runcCaps[0], 'the same capabilities as the same container under runc: all containerd has');
  assert.ok(sysfsOptions(await bundleSpec(priv)).includes('rw'));
  assert.match(await ok(priv, 'grep " /sys " /proc/mounts'), / rw,/, '/sys is read-write');
  await ok(priv, 'mkdir -p /mnt && mount -t tmpfs none /mnt && touch /mnt/x && umount /mnt');
  const links = await ok(priv, 'ip link add d0 type dummy && ip link add br0 type bridge && ip link add v0 type veth peer name v1 && ' +
    'ip link set v0 master br0 && tunctl -t tun0 >/dev/null && ip -o link show');
  for (const link of ['d0', 'br0', 'v0', 'tun0']) assert.match(links, new RegExp(`: ${link}[@:]`), `${link} was made in the VM`);
  const nft = await ok(priv, 'nft add table inet t && nft add chain inet t c "{ type filter hook input priority 0; }" && ' +
    'nft add rule inet t c ct state established accept && nft list ruleset');
  assert.match(nft, /ct state established accept/);
  const loaded = (await ok(priv, 'cut -d" " -f1 /proc/modules')).split('\n');
  for (const m of ['dummy', 'bridge', 'veth', 'tun', 'nf_tables', 'nft_ct', 'nf_conntrack']) assert.ok(loaded.includes(m), `${m} was loaded on demand (${loaded.join(' ')})`);
  assert.deepEqual((await ok(priv, 'ls /dev')).trim().split('\n').sort(),
    ['fd', 'full', 'net', 'null', 'ptmx', 'pts', 'random', 'shm', 'stderr', 'stdin', 'stdout', 'tty', 'urandom', 'zero'], 'the container\'s own minimal /dev, and tun');
  await fails(priv, 'ls /dev/vda', /No such file/);

  // The same container without privileged: none of it.
  const plain = await startTestContainer(ctx, pod, { name: 'plain', image: NETTOOLS_IMAGE, command: ['sleep', '1000'] });
  assert.equal((await capEff(plain)) & (CAP_NET_ADMIN | CAP_SYS_ADMIN), 0n);
  await fails(plain, 'ip link add d1 type dummy', /Operation not permitted/);
  await fails(plain, 'mkdir -p /mnt && mount -t tmpfs none /mnt', /denied|not permitted/);
  await fails(plain, 'nft list ruleset', /Operation not permitted/);
  assert.match(await ok(plain, 'grep " /sys " /proc/mounts'), / ro,/, '/sys is read-only');
  await fails(plain, 'ls /dev/net', /No such file/);

  // A host device is refused with a clear error.
  const dev = await createTestContainer(ctx, pod, { name: 'dev', command: ['true'], devices: [{ container_path: '/dev/hostdisk', host_path: '/dev/vda', permissions: 'r' }] });
  await assert.rejects(ctx.cri.startContainer({ container_id: dev }), /host device \/dev\/hostdisk \(b 254:0\); a VM pod gets no host devices/);
  await ctx.cri.removeContainer({ container_id: dev });

  // The pod's sysctls are the VM's.
  assert.equal(await ok(plain, 'cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/kernel/shm_rmid_forced /proc/sys/net/core/somaxconn'), '80\n1\n1024\n');

  // A read-only root keeps its writable volumes writable, /proc, /dev and /dev/shm working.
  const ro = await startTestContainer(ctx, pod, {
    name: 'ro', command: ['sleep', '1000'], securityContext: { readonly_rootfs: true },
    mounts: [mount('/data', data), mount('/conf', conf, true), mount('/scratch', shared)],
  });
  await fails(ro, 'touch /x', /Read-only file system/);
  await fails(ro, 'touch /tmp/x', /Read-only file system/);
  await fails(ro, 'touch /conf/x', /Read-only file system/);
  await ok(ro, 'touch /data/from-vm && touch /scratch/from-ro && echo hi > /dev/null && touch /dev/shm/x && cat /proc/self/status >/dev/null && cat /etc/hosts >/dev/null');
  assert.ok(await stat(join(data, 'from-vm')).then(() => true), 'the writable volume\'s file is on the host');

  // Memory volumes: one tmpfs per volume for the pod, shared, bounded, read-only where asked, never on the host.
  const m1 = await startTestContainer(ctx, pod, { name: 'm1', command: ['sleep', '1000'], mounts: [mount('/shared', shared), mount('/big', big)] });
  const m2 = await startTestContainer(ctx, pod, {
    name: 'm2', command: ['sleep', '1000'], securityContext: { run_as_user: { value: 65534 } },
    mounts: [mount('/s', shared), mount('/sub', join(shared, 'deep/sub')), mount('/ro', shared, true)],
  });
  await ok(m1, 'echo hello > /shared/hello');
  assert.equal(await ok(m2, 'cat /s/hello; ls /s'), 'hello\ndeep\nfrom-ro\nhello\n', 'containers of the pod see each other\'s files');
  await ok(m2, 'echo below > /sub/x');
  assert.equal(await ok(m1, 'cat /shared/deep/sub/x'), 'below\n', 'a subPath is a directory of the same volume, made when missing');
  await fails(m2, 'touch /ro/y', /Read-only file system/);
  await fails(m1, 'dd if=/dev/zero of=/shared/fill bs=64k count=32', /No space left on device/);
  const bigKiB = Number(/\s(\d+)\s+\d+\s+\d+\s+\d+%\s+\/big/.exec(await ok(m1, 'df -k /big'))?.[1]);
  const memKiB = Number(/MemTotal:\s+(\d+)/.exec(await ok(m1, 'cat /proc/meminfo'))?.[1]);
  assert.ok(bigKiB >= memKiB * 0.9, `a volume without a limit is bounded by the VM's memory (${bigKiB} of ${memKiB} KiB)`);
  assert.deepEqual([...await filesUnder(shared), ...await filesUnder(big)], [], 'nothing landed in the host directories');
  await ctx.cri.stopContainer({ container_id: m1, timeout: 1 });
  await ctx.cri.removeContainer({ container_id: m1 });
  assert.equal(await ok(m2, 'cat /s/hello'), 'hello\n', 'the volume outlives the containers using it');

  // Users and groups reach the guest process as they reach runc's, and no-new-privileges holds.
  const users = await startTestContainer(ctx, pod, {
    name: 'users', command: ['sleep', '1000'],
    securityContext: { run_as_user: { value: 1000 }, run_as_group: { value: 3000 }, supplemental_groups: [4000, 5000], no_new_privs: true },
  });
  const id = await ok(users, 'id; grep NoNewPrivs /proc/self/status');
  assert.match(id, /^uid=1000 gid=3000 groups=.*\b4000\b.*\b5000\b/m);
  assert.match(id, /NoNewPrivs:\s+1/);
  assert.equal(id, runcIds[0], 'the same as under runc');
  await removeTestPod(ctx, pod.id);
});
