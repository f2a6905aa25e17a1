/**
 * Pods on the Sandpod shim under a real containerd, driven by ctr with the annotations CRI writes: a pod
 * sandbox task is one VM in the pod's network namespace, its containers share it (same guest boot id)
 * and the pod's IP; a QEMU killed from outside ends the containers with a non-zero status; a killed shim
 * leaves no VM once containerd deletes the tasks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { busyboxImageArchive, BUSYBOX_IMAGE as IMAGE } from '../../src/images/index.js';
import { resolvePaths } from '../../src/paths.js';
import { waitUntil } from '../../src/wait.js';
import { shimTestContainerd } from './containerd.js';
import { processesWhere } from './helpers.js';

const SHIM = ['--runtime', 'io.containerd.sandpod.v2'];
const sh = promisify(execFile);

/** The CRI annotations of a pod sandbox or of one of its containers. */
function criAnnotations(pod: string, type: 'sandbox' | 'container', extra: Record<string, string> = {}): string[] {
  return Object.entries({ 'io.kubernetes.cri.container-type': type, 'io.kubernetes.cri.sandbox-id': pod, ...extra })
    .flatMap(([k, v]) => ['--annotation', `${k}=${v}`]);
}

/** A network namespace wired like CNI's ptp plugin would: eth0 inside, its peer on the host, a /24 between. */
async function podNetns(t: { after(fn: () => Promise<void>): void }): Promise<{ path: string; podIp: string; hostIp: string }> {
  const tag = randomBytes(3).toString('hex');
  const name = `spe2e-${tag}`;
  const octet = 100 + (parseInt(tag.slice(0, 2), 16) % 100);
  const [hostIp, podIp] = [`10.213.${octet}.1`, `10.213.${octet}.2`];
  t.after(async () => {
    await sh('ip', ['netns', 'del', name]).catch(() => undefined);
    await sh('ip', ['link', 'del', `spv${tag}`]).catch(() => undefined);
  });
  await sh('ip', ['netns', 'add', name]);
  await sh('ip', ['link', 'add', `spv${tag}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', name]);
  await sh('ip', ['addr', 'add', `${hostIp}/24`, 'dev', `spv${tag}`]);
  await sh('ip', ['link', 'set', `spv${tag}`, 'up']);
  for (const args of [['link', 'set', 'lo', 'up'], ['addr', 'add', `${podIp}/24`, 'dev', 'eth0'], ['link', 'set', 'eth0', 'up'], ['route', 'add', 'default', 'via', hostIp]]) {
    await sh('ip', ['-n', name, ...args]);
  }
  return { path: `/var/run/netns/${name}`, podIp, hostIp };
}

const qemuOf = async (pod: string): Promise<number[]> => processesWhere((cmd) => cmd.startsWith('qemu-system') && cmd.includes(`sandpod-${pod}\0`));

test('containers of a pod share one VM, the pod network, and go with it', async (t) => {
  const net = await podNetns(t);
  const containerd = await shimTestContainerd(t, 'pod');
  await containerd.importImage(await busyboxImageArchive(resolvePaths()));

  // The pod: 2 vCPUs and 256Mi from the sandbox annotations, in the pod's network namespace.
  await containerd.ctr(['run', '-d', ...SHIM, '--with-ns', `network:${net.path}`, ...criAnnotations('pod1', 'sandbox', {
    'io.kubernetes.cri.sandbox-cpu-quota': '200000', 'io.kubernetes.cri.sandbox-cpu-period': '100000', 'io.kubernetes.cri.sandbox-memory': String(256 << 20),
  }), IMAGE, 'pod1', 'pause']);
  const [vm] = await qemuOf('pod1');
  assert.ok(vm, 'the pod sandbox is a VM');
  await containerd.ctr(['run', '-d', ...SHIM, ...criAnnotations('pod1', 'container'), IMAGE, 'web',
    'sh', '-c', 'mkdir -p /www && echo hello-from-the-vm > /www/index.html && exec httpd -f -p 8080 -h /www']);
  // `side` runs attached: ctr exits with its status, which is how the VM's death reaches the user.
  const side = containerd.ctr(['run', ...SHIM, ...criAnnotations('pod1', 'container'), IMAGE, 'side', 'sh', '-c', 'trap "exit 0" TERM; sleep 1000 & wait'])
    .then(() => 0, (e: { code?: number }) => e.code ?? -1);
  await waitUntil(async () => (/^side\s+\d+\s+RUNNING$/m.test((await containerd.ctr(['task', 'ls'])).stdout) ? true : undefined),
    { timeoutMs: 30_000, onTimeout: () => new Error('side never ran') });
  assert.deepEqual(await qemuOf('pod1'), [vm], 'the containers run in the pod VM, not in VMs of their own');

  const inside = async (id: string, script: string): Promise<string> =>
    (await containerd.ctr(['task', 'exec', '--exec-id', `x${randomBytes(3).toString('hex')}`, id, 'sh', '-c', script])).stdout;
  const [webBoot, sideBoot] = [await inside('web', 'cat /proc/sys/kernel/random/boot_id'), await inside('side', 'cat /proc/sys/kernel/random/boot_id')];
  assert.match(webBoot, /^[0-9a-f-]{36}\n$/);
  assert.equal(webBoot, sideBoot, 'both containers run on one guest kernel boot');
  const facts = await inside('side', 'nproc; grep MemTotal /proc/meminfo; ip -4 addr show; ip route; ps -o pid,args');
  assert.match(facts, /^2$/m, 'the pod VM has the 2 vCPUs the pod asked for');
  const memKiB = Number(/MemTotal:\s+(\d+) kB/.exec(facts)?.[1]);
  assert.ok(memKiB > 150 * 1024 && memKiB <= 256 * 1024, `MemTotal ${memKiB} kB fits the pod's 256Mi`);
  assert.match(facts, new RegExp(`inet ${net.podIp.replace(/\./g, '\\.')}/24`), 'the guest has the pod IP');
  assert.match(facts, new RegExp(`default via ${net.hostIp.replace(/\./g, '\\.')}`), 'and the pod default route');
  assert.doesNotMatch(facts, /httpd/, 'each container has its own PID namespace');

  // The host reaches the VM pod at the pod's IP, and the pod reaches the host side.
  const page = await waitUntil(async () => {
    const r = await fetch(`http://${net.podIp}:8080/`, { signal: AbortSignal.timeout(3000) }).catch(() => undefined);
    return r?.ok ? r.text() : undefined;
  }, { timeoutMs: 20_000, onTimeout: () => new Error(`http://${net.podIp}:8080/ never answered`) });
  assert.equal(page, 'hello-from-the-vm\n');
  assert.match(await inside('side', `ping -c 1 -W 5 ${net.hostIp}`), /1 packets received/);

  // QEMU killed from outside: both containers are reported exited, non-zero.
  const killedAt = Date.now();
  process.kill(vm, 'SIGKILL');
  const stopped = (ls: string): boolean => ['web', 'pod1'].every((id) => new RegExp(`^${id}\\s+\\d+\\s+STOPPED$`, 'm').test(ls));
  await waitUntil(async () => (stopped((await containerd.ctr(['task', 'ls'])).stdout) ? true : undefined),
    { timeoutMs: 5000, intervalMs: 50, onTimeout: () => new Error('containerd did not see the containers stop within 5 s of QEMU being killed') });
  t.diagnostic(`containers reported stopped ${Date.now() - killedAt} ms after QEMU was killed`);
  assert.equal(await side, 137, 'a container lost with its VM exits 137');
  for (const id of ['web', 'side', 'pod1']) {
    await containerd.ctr(['task', 'rm', id]).catch(() => undefined);
    await containerd.ctr(['containers', 'rm', id]);
  }
  assert.deepEqual(await qemuOf('pod1'), []);

  // A shim killed with -9 leaves its VM running until containerd deletes the tasks: then nothing is left.
  await containerd.ctr(['run', '-d', ...SHIM, ...criAnnotations('pod2', 'sandbox'), IMAGE, 'pod2', 'pause']);
  await containerd.ctr(['run', '-d', ...SHIM, ...criAnnotations('pod2', 'container'), IMAGE, 'pod2-app', 'sleep', '1000']);
  const [vm2] = await qemuOf('pod2');
  assert.ok(vm2);
  const shims = await processesWhere((cmd) => cmd.includes('shim') && cmd.includes('-socket') && cmd.includes('\0-id\0pod2\0'));
  assert.equal(shims.length, 1, 'one shim serves the pod');
  process.kill(shims[0] as number, 'SIGKILL');
  for (const id of ['pod2-app', 'pod2']) {
    await containerd.ctr(['task', 'rm', '-f', id]).catch(() => undefined);
    await containerd.ctr(['containers', 'rm', id]);
  }
  await waitUntil(async () => ((await qemuOf('pod2')).length === 0 ? true : undefined), { timeoutMs: 10_000, onTimeout: () => new Error('the VM of the dead shim is still running') });
  // containerd runs `shim delete` for a dead shim's tasks in the background: let those clean-ups finish.
  await waitUntil(async () => ((await processesWhere((cmd) => cmd.includes('\0delete') && cmd.includes('pod2'))).length === 0 ? true : undefined),
    { timeoutMs: 60_000, onTimeout: () => new Error('containerd\'s clean-up of the dead shim did not finish') });
});
