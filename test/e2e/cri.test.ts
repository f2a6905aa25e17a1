/**
 * Sandpod's CRI client against a real containerd 1.6 with the CRI plugin, runc and a CNI bridge (no VMs): a
 * pod gets an address on the test network that the host reaches, containers run, exec and exit with their
 * codes, and stopping and removing the pod leaves no network namespace, mount or shim behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { BUSYBOX_IMAGE, PAUSE_IMAGE } from '../../src/images/index.js';
import { waitUntil } from '../../src/wait.js';
import { criTestContext, runTestPod, startTestContainer, waitContainerState } from './cri-helpers.js';
import { processesWhere } from './helpers.js';

const ctx = criTestContext('cri');

const exists = (path: string): Promise<boolean> => stat(path).then(() => true, () => false);
const mountsUnder = async (dir: string): Promise<string[]> =>
  (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').map((l) => l.split(' ')[4] ?? '').filter((m) => m.startsWith(`${dir}/`));

test('containerd serves CRI runtime.v1 with the images imported', async () => {
  const version = await ctx.cri.version({ version: 'v1' });
  assert.equal(version.runtime_name, 'containerd');
  assert.equal(version.runtime_api_version, 'v1');
  assert.match(version.runtime_version, /^1\.6\./);
  const busybox = await ctx.cri.imageStatus({ image: { image: BUSYBOX_IMAGE } });
  assert.ok(busybox.image?.repo_tags.includes(BUSYBOX_IMAGE), 'busybox is known to CRI');
  assert.match(busybox.image?.id ?? '', /^sha256:[0-9a-f]{64}$/);
  assert.equal((await ctx.cri.imageStatus({ image: { image: 'sandpod.local/absent:1' } })).image, null);
  const tags = (await ctx.cri.listImages()).images.flatMap((i) => i.repo_tags);
  assert.ok(tags.includes(PAUSE_IMAGE), `the pause image is listed (${tags.join(', ')})`);
});

test('a runc pod on the CNI bridge: address, exec, HTTP from the host, stop, and nothing left', async () => {
  const t0 = Date.now();
  const pod = await runTestPod(ctx, 'web', 'runc');
  const podStarted = Date.now() - t0;
  assert.equal(pod.status.state, 'SANDBOX_READY');
  assert.equal(pod.status.runtime_handler, 'runc');
  assert.ok(ctx.network.contains(pod.ip), `pod IP ${pod.ip} is in ${ctx.network.subnet}`);
  assert.ok(await exists(pod.netns), `${pod.netns} exists while the pod runs`);
  assert.ok(pod.netns.startsWith(`${ctx.containerd.base}/`), `the pod's namespace lives under its containerd (${pod.netns}), not in the host's /run/netns`);

  const web = await startTestContainer(ctx, pod, {
    name: 'httpd',
    command: ['sh', '-c', 'mkdir -p /www && echo "hello from $(hostname)" > /www/index.html && exec httpd -f -p 8080 -h /www'],
  });
  const running = await waitContainerState(ctx.cri, web, ['CONTAINER_RUNNING']);
  assert.equal(running.image?.image, BUSYBOX_IMAGE);
  assert.match(running.image_ref, /sha256:[0-9a-f]{64}/);
  assert.ok(running.started_at >= running.created_at && running.created_at > 0, 'created_at and started_at are set, in order');
  assert.equal(running.finished_at, 0);
  assert.equal(running.log_path, `${pod.config.log_directory}/httpd.log`);

  const exec = await ctx.cri.execSync({ container_id: web, cmd: ['sh', '-c', 'echo hi; echo oops >&2; exit 3'], timeout: 10 });
  assert.equal(exec.stdout.toString(), 'hi\n');
  assert.equal(exec.stderr.toString(), 'oops\n');
  assert.equal(exec.exit_code, 3);
  const addr = await ctx.cri.execSync({ container_id: web, cmd: ['ip', '-4', '-o', 'addr', 'show', 'eth0'], timeout: 10 });
  assert.match(addr.stdout.toString(), new RegExp(`inet ${pod.ip.replaceAll('.', '\\.')}/24`), 'eth0 in the pod holds the CNI address');
  const ping = await ctx.cri.execSync({ container_id: web, cmd: ['ping', '-c', '1', '-W', '2', ctx.network.gateway], timeout: 10 });
  assert.equal(ping.exit_code, 0, `the pod reaches the bridge gateway ${ctx.network.gateway}: ${ping.stdout.toString()}`);

  const body = await waitUntil(async () => {
    const res = await fetch(`http://${pod.ip}:8080/`, { signal: AbortSignal.timeout(2_000) }).catch(() => undefined);
    return res?.ok ? res.text() : undefined;
  }, { timeoutMs: 15_000, intervalMs: 100, onTimeout: () => new Error(`http://${pod.ip}:8080/ did not answer from the host`) });
  assert.equal(body, 'hello from web\n', 'the host fetched the page the container wrote, served from the pod IP');

  const done = await startTestContainer(ctx, pod, { name: 'exits', command: ['sh', '-c', 'exit 7'] });
  const exited = await waitContainerState(ctx.cri, done, ['CONTAINER_EXITED']);
  assert.equal(exited.exit_code, 7);
  // No order between started_at and finished_at here: containerd stamps started_at when Start returns, which can
  // be after a process this short has already exited.
  assert.ok(exited.finished_at > 0 && exited.started_at > 0, 'started_at and finished_at are set');
  const listed = (await ctx.cri.listContainers({ filter: { pod_sandbox_id: pod.id } })).containers.map((c) => [c.metadata?.name, c.state]).sort();
  assert.deepEqual(listed, [['exits', 'CONTAINER_EXITED'], ['httpd', 'CONTAINER_RUNNING']]);

  // httpd is the container's PID 1 and has no TERM handler, so the kernel drops TERM: the grace period ends in KILL.
  await ctx.cri.stopContainer({ container_id: web, timeout: 1 });
  const stopped = await waitContainerState(ctx.cri, web, ['CONTAINER_EXITED']);
  assert.equal(stopped.exit_code, 137, 'killed after the grace period');
  assert.equal(stopped.reason, 'Error');
  await ctx.cri.removeContainer({ container_id: web });
  await assert.rejects(ctx.cri.containerStatus({ container_id: web }), (e: Error & { kind?: string }) => e.kind === 'NotFound' && /ContainerStatus/.test(e.message));

  const containerdRoot = ctx.containerd.base;
  await ctx.cri.stopPodSandbox({ pod_sandbox_id: pod.id });
  await ctx.cri.stopPodSandbox({ pod_sandbox_id: pod.id }); // idempotent while the pod exists
  assert.equal(await exists(pod.netns), false, `${pod.netns} is gone after StopPodSandbox`);
  assert.equal((await ctx.cri.podSandboxStatus({ pod_sandbox_id: pod.id })).status?.state, 'SANDBOX_NOTREADY');
  await ctx.cri.removePodSandbox({ pod_sandbox_id: pod.id });
  await ctx.cri.removePodSandbox({ pod_sandbox_id: pod.id }); // idempotent: already gone is success
  assert.deepEqual(await mountsUnder(containerdRoot), [], 'no rootfs, shm or netns mount is left under containerd');
  assert.deepEqual((await ctx.cri.listPodSandbox()).items, []);
  await assert.rejects(ctx.cri.podSandboxStatus({ pod_sandbox_id: pod.id }), (e: Error & { kind?: string }) => e.kind === 'NotFound');
  assert.deepEqual(await waitUntil(async () => {
    const shims = await processesWhere((cmd) => cmd.includes('containerd-shim') && cmd.includes(containerdRoot));
    return shims.length === 0 ? shims : undefined;
  }, { timeoutMs: 10_000, onTimeout: () => new Error('the pod\'s containerd-shim did not exit after RemovePodSandbox') }), []);
  process.stderr.write(`# runc pod ready in ${podStarted} ms, whole pod test ${Date.now() - t0} ms\n`);
});
