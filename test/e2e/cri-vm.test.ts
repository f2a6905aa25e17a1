/**
 * VM pods through containerd's CRI with the `sandpod-vm` runtime handler: the pod sandbox is one VM sized
 * from the pod's resources, both containers run in it (one guest boot), the CNI address is the guest's and
 * the host reaches it, ExecSync works, a QEMU killed from outside ends the containers non-zero, and
 * StopPodSandbox + RemovePodSandbox leave no QEMU, tap, netns, mount or socket behind.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTool } from '../../src/run-tool.js';
import { shimSocketPath } from '../../src/shim/launch.js';
import { waitUntil } from '../../src/wait.js';
import { criTestContext, runTestPod, startTestContainer, waitContainerState, type TestPod } from './cri-helpers.js';
import { processesWhere, shimEnvironment } from './helpers.js';

// Ready before the frame's hooks run (root-level hooks do not wait for each other).
const roots = mkdtempSync(join(tmpdir(), 'sandpod-e2e-cri-vm-roots-'));
const env = await shimEnvironment(roots);
const ctx = criTestContext('cri-vm', { env });
after(() => rm(roots, { recursive: true, force: true }));

const qemus = (podId = ''): Promise<number[]> => processesWhere((cmd) => cmd.startsWith('qemu-system') && cmd.includes(roots) && cmd.includes(`sandpod-${podId.slice(0, 24)}`));
const exec = async (id: string, cmd: string[]): Promise<{ out: string; code: number }> => {
  const r = await ctx.cri.execSync({ container_id: id, cmd, timeout: 30 });
  return { out: r.stdout.toString() + r.stderr.toString(), code: r.exit_code };
};

async function nothingLeft(pod: TestPod): Promise<string[]> {
  return [
    ...(await qemus()).map((p) => `qemu ${p}`),
    ...(await stat(pod.netns).then(() => [`netns ${pod.netns}`], () => [])),
    ...(await readdir(join(roots, 'run', 'sandboxes')).catch(() => [])).map((d) => `run dir ${d}`),
    ...(await readdir(join(roots, 'run', 'shares')).catch(() => [])).map((d) => `share ${d}`),
    ...(await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.includes(roots)).map((l) => `mount ${l}`),
    ...(await processesWhere((cmd) => cmd.includes('shim') && cmd.includes('-socket') && cmd.includes(pod.id))).map((p) => `shim ${p}`),
    ...(await stat(shimSocketPath(ctx.containerd.address, 'k8s.io', pod.id)).then(() => ['shim socket'], () => [])),
  ];
}

test('a sandpod-vm pod: one VM for its containers, the CNI address in the guest, and nothing left', async () => {
  const hostKernel = (await readFile('/proc/sys/kernel/osrelease', 'utf8')).trim();
  const t0 = Date.now();
  const pod = await runTestPod(ctx, 'vmweb', 'sandpod-vm', { cpu_period: 100000, cpu_quota: 200000, memory_limit_in_bytes: 256 * 2 ** 20 });
  const readyMs = Date.now() - t0;
  assert.equal(pod.status.runtime_handler, 'sandpod-vm');
  assert.ok(ctx.network.contains(pod.ip), `pod IP ${pod.ip} is in ${ctx.network.subnet}`);
  assert.equal((await qemus()).length, 1, 'the pod sandbox is one VM');

  const web = await startTestContainer(ctx, pod, {
    name: 'httpd', command: ['sh', '-c', 'mkdir -p /www && echo "hello from $(hostname)" > /www/index.html && exec httpd -f -p 8080 -h /www'],
  });
  const side = await startTestContainer(ctx, pod, { name: 'side', command: ['sh', '-c', 'trap "exit 0" TERM; sleep 1000 & wait'] });
  await waitContainerState(ctx.cri, web, ['CONTAINER_RUNNING']);
  assert.equal((await qemus()).length, 1, 'the containers run in the pod VM');

  const [bootA, bootB] = [await exec(web, ['cat', '/proc/sys/kernel/random/boot_id']), await exec(side, ['cat', '/proc/sys/kernel/random/boot_id'])];
  assert.match(bootA.out, /^[0-9a-f-]{36}\n$/);
  assert.equal(bootA.out, bootB.out, 'both containers run on one guest boot');
  const kernel = await exec(side, ['uname', '-r']);
  assert.notEqual(kernel.out.trim(), hostKernel, 'on the guest kernel');
  const sized = await exec(side, ['sh', '-c', 'nproc; grep MemTotal /proc/meminfo']);
  assert.match(sized.out, /^2$/m, 'the VM has the pod\'s 2 CPUs');
  const memKiB = Number(/MemTotal:\s+(\d+) kB/.exec(sized.out)?.[1]);
  assert.ok(memKiB > 150 * 1024 && memKiB <= 256 * 1024, `MemTotal ${memKiB} kB within the pod's 256Mi`);
  const failing = await exec(side, ['sh', '-c', 'echo out; echo err >&2; exit 3']);
  assert.equal(failing.code, 3);
  assert.match(failing.out, /out\nerr\n/);
  const addr = await exec(side, ['ip', '-4', '-o', 'addr', 'show']);
  assert.match(addr.out, new RegExp(`inet ${pod.ip.replaceAll('.', '\\.')}/24`), 'the guest holds the CNI address');
  const ping = await exec(side, ['ping', '-c', '1', '-W', '5', ctx.network.gateway]);
  assert.equal(ping.code, 0, `the VM pod reaches the bridge gateway: ${ping.out}`);
  // User and capabilities from the container's security context, enforced inside the guest.
  const nobody = await startTestContainer(ctx, pod, {
    name: 'nobody', command: ['sleep', '1000'], securityContext: { run_as_user: { value: 65534 } },
  });
  assert.equal((await exec(nobody, ['id', '-u'])).out.trim(), '65534', 'runAsUser reaches the process');
  assert.notEqual((await exec(side, ['ip', 'link', 'set', 'lo', 'mtu', '1500'])).code, 0, 'NET_ADMIN is not in the default set');
  const admin = await startTestContainer(ctx, pod, {
    name: 'admin', command: ['sleep', '1000'], securityContext: { capabilities: { add_capabilities: ['NET_ADMIN'] } },
  });
  const mtu = await exec(admin, ['sh', '-c', 'ip link set lo mtu 1500 && ip link show lo']);
  assert.equal(mtu.code, 0, `an added NET_ADMIN works inside the VM: ${mtu.out}`);
  assert.match(mtu.out, /mtu 1500/);

  const hosts = await exec(side, ['cat', '/etc/hostname']);
  assert.equal(hosts.out.trim(), 'vmweb', 'CRI\'s /etc/hostname reaches the container');

  const body = await waitUntil(async () => {
    const res = await fetch(`http://${pod.ip}:8080/`, { signal: AbortSignal.timeout(3_000) }).catch(() => undefined);
    return res?.ok ? res.text() : undefined;
  }, { timeoutMs: 20_000, intervalMs: 200, onTimeout: () => new Error(`http://${pod.ip}:8080/ did not answer from the host`) });
  assert.equal(body, 'hello from vmweb\n', 'the host reaches the VM pod at its CNI address');
  // containerd's CRI PortForward dials localhost inside the pod's network namespace: that leads into the guest.
  const viaLocalhost = await runTool('test', 'nsenter', [`--net=${pod.netns}`, '--', 'timeout', '20', 'busybox', 'wget', '-qO-', 'http://127.0.0.1:8080/']);
  assert.equal(viaLocalhost.toString(), 'hello from vmweb\n', 'the pod namespace\'s localhost is the VM pod\'s');

  const { stats } = await ctx.cri.containerStats({ container_id: side });
  assert.ok((stats?.memory?.working_set_bytes?.value ?? 0) > 0, 'ContainerStats has the memory the container uses in the guest');
  assert.ok((stats?.cpu?.usage_core_nano_seconds?.value ?? 0) > 0, 'and the CPU time it used');
  await ctx.cri.updateContainerResources({ container_id: side, linux: { memory_limit_in_bytes: 100 * 2 ** 20 } });
  const available = (await ctx.cri.containerStats({ container_id: side })).stats?.memory?.available_bytes?.value ?? 0;
  assert.ok(available > 0 && available < 100 * 2 ** 20, `UpdateContainerResources set the container's memory limit in the guest (available ${available})`);

  // A container over its memory limit is OOM-killed inside the guest, and CRI hears of it.
  const hog = await startTestContainer(ctx, pod, {
    name: 'hog', command: ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=100M', 'count=1'], resources: { memory_limit_in_bytes: 32 * 2 ** 20 },
  });
  const oom = await waitContainerState(ctx.cri, hog, ['CONTAINER_EXITED'], 60_000);
  assert.equal(oom.reason, 'OOMKilled', `the hog is reported OOMKilled (exit ${oom.exit_code})`);
  assert.notEqual(oom.exit_code, 0);

  await ctx.cri.stopContainer({ container_id: side, timeout: 5 });
  assert.equal((await waitContainerState(ctx.cri, side, ['CONTAINER_EXITED'])).exit_code, 0, 'TERM ends the container that handles it');
  await ctx.cri.stopPodSandbox({ pod_sandbox_id: pod.id });
  await ctx.cri.removePodSandbox({ pod_sandbox_id: pod.id });
  let left: string[] = [];
  await waitUntil(async () => {
    left = await nothingLeft(pod);
    return left.length === 0 ? true : undefined;
  }, { timeoutMs: 15_000, onTimeout: () => new Error(`left behind: ${left.join('; ')}`) });
  process.stderr.write(`# sandpod-vm pod ready in ${readyMs} ms\n`);
});

test('killing the pod VM\'s QEMU ends its containers non-zero', async () => {
  const pod = await runTestPod(ctx, 'doomed', 'sandpod-vm');
  const app = await startTestContainer(ctx, pod, { name: 'app', command: ['sleep', '1000'] });
  await waitContainerState(ctx.cri, app, ['CONTAINER_RUNNING']);
  const [qemu] = await qemus(pod.id);
  assert.ok(qemu, 'the pod has its VM');
  const killedAt = Date.now();
  process.kill(qemu, 'SIGKILL');
  const status = await waitContainerState(ctx.cri, app, ['CONTAINER_EXITED'], 5_000);
  process.stderr.write(`# container reported exited ${Date.now() - killedAt} ms after QEMU was killed\n`);
  assert.equal(status.exit_code, 137);
  await ctx.cri.stopPodSandbox({ pod_sandbox_id: pod.id });
  await ctx.cri.removePodSandbox({ pod_sandbox_id: pod.id });
  assert.deepEqual(await nothingLeft(pod), []);
});
