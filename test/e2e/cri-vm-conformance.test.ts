/**
 * What the CRI validation suite (cri-tools' critest) checks of a runtime, kept here for sandpod-vm so CI
 * covers it without building the suite (docs/shim.md has the suite's table): seccomp profiles applied in
 * the guest (containerd's RuntimeDefault, a Localhost profile, none for privileged containers), masked and
 * read-only paths, dropping every capability, stopping a container that ignores SIGTERM and removing it, and
 * what a VM cannot do by design (the node's namespaces, a PID namespace shared by the pod's containers)
 * refused with the reason. runc runs the same containers where the two must agree.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Input, LinuxContainerSecurityContext } from '../../src/cri/index.js';
import { compileSeccomp, MAX_INSTRUCTIONS } from '../../src/shim/seccomp/compile.js';
import { criTestContext, shellIn, removeTestPod, runTestPod, startTestContainer, waitContainerState, type TestPod } from './cri-helpers.js';
import { shimEnvironment } from './helpers.js';

const roots = mkdtempSync(join(tmpdir(), 'sandpod-e2e-cri-conformance-roots-'));
const env = await shimEnvironment(roots);
const ctx = criTestContext('cri-conformance', { env });
after(() => rm(roots, { recursive: true, force: true }));

const { sh, ok, fails } = shellIn(ctx);
const status = async (id: string, field: string): Promise<string> => new RegExp(`^${field}:\\s+(\\S+)`, 'm').exec(await ok(id, 'cat /proc/self/status'))?.[1] ?? '';

const runtimeDefault: Input<LinuxContainerSecurityContext> = { seccomp: { profile_type: 'RuntimeDefault', localhost_ref: '' } };

/** What each runtime showed under RuntimeDefault, to compare. */
const seen = new Map<string, string>();

async function seccompChecks(pod: TestPod, runtime: string, profile: string): Promise<void> {
  const confined = await startTestContainer(ctx, pod, { name: 'confined', command: ['sleep', '1000'], securityContext: runtimeDefault });
  assert.equal(await status(confined, 'Seccomp'), '2', `${runtime}: RuntimeDefault filters the container's processes`);
  const bundle = JSON.parse(await readFile(join(ctx.containerd.base, 'state', 'io.containerd.runtime.v2.task', 'k8s.io', confined, 'config.json'), 'utf8')) as { linux: { seccomp: unknown } };
  const compiled = compileSeccomp(bundle.linux.seccomp, 'runtime-default');
  assert.ok(compiled.instructions < MAX_INSTRUCTIONS);
  process.stderr.write(`# containerd's RuntimeDefault profile: ${compiled.instructions} BPF instructions, skipped on x86-64: ${compiled.skipped.join(' ')}\n`);
  // containerd's profile lets unshare through only with CAP_SYS_ADMIN (which the default set lacks).
  await fails(confined, 'unshare -U true', /Operation not permitted/);
  seen.set(runtime, (await sh(confined, 'unshare -U true; unshare -n true; ls / >/dev/null; echo $?')).out);
  const open = await startTestContainer(ctx, pod, { name: 'open', command: ['sleep', '1000'], securityContext: { seccomp: { profile_type: 'Unconfined', localhost_ref: '' } } });
  assert.equal(await status(open, 'Seccomp'), '0', `${runtime}: Unconfined has no filter`);
  // A Localhost profile blocking sethostname: refused even with CAP_SYS_ADMIN, allowed without the profile.
  const admin = { capabilities: { add_capabilities: ['SYS_ADMIN'], drop_capabilities: [], add_ambient_capabilities: [] } };
  const blocked = await startTestContainer(ctx, pod, {
    name: 'blocked', command: ['sleep', '1000'], securityContext: { ...admin, seccomp: { profile_type: 'Localhost', localhost_ref: profile } },
  });
  await fails(blocked, 'hostname blocked-by-seccomp', /Operation not permitted|Permission denied/);
  const allowed = await startTestContainer(ctx, pod, { name: 'allowed', command: ['sleep', '1000'], securityContext: admin });
  await ok(allowed, 'hostname allowed && hostname');
  const privileged = await startTestContainer(ctx, pod, {
    name: 'privileged', command: ['sleep', '1000'], securityContext: { privileged: true, seccomp: { profile_type: 'Localhost', localhost_ref: profile } },
  });
  assert.equal(await status(privileged, 'Seccomp'), '0', `${runtime}: a privileged container ignores the profile`);
}

test('seccomp: RuntimeDefault and a Localhost profile filter a VM pod\'s containers in the guest as runc\'s', async () => {
  const profile = join(roots, 'block-sethostname.json');
  await writeFile(profile, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['sethostname'], action: 'SCMP_ACT_ERRNO' }] }));
  for (const runtime of ['runc', 'sandpod-vm'] as const) {
    const pod = await runTestPod(ctx, `seccomp-${runtime}`, runtime, undefined, { privileged: true });
    await seccompChecks(pod, runtime, profile);
    await removeTestPod(ctx, pod.id);
  }
  assert.equal(seen.get('sandpod-vm'), seen.get('runc'), 'the same calls are refused the same way under RuntimeDefault');
});

test('masked and read-only paths, no capabilities at all, a stop that needs SIGKILL, and removal, in a VM pod', async () => {
  const pod = await runTestPod(ctx, 'paths', 'sandpod-vm');
  const c = await startTestContainer(ctx, pod, {
    name: 'paths', command: ['sleep', '1000'],
    securityContext: { masked_paths: ['/etc/passwd', '/root', '/proc/kcore'], readonly_paths: ['/tmp', '/proc/sys'] },
  });
  assert.equal(await ok(c, 'cat /etc/passwd; ls -A /root; wc -c < /proc/kcore'), '0\n', 'masked files and directories read empty');
  await fails(c, 'touch /tmp/x', /Read-only file system/);
  await fails(c, 'echo 1 > /proc/sys/kernel/shm_rmid_forced', /Read-only file system/);
  await ok(c, 'touch /home-is-writable');
  // Without a list of its own, a container gets whatever containerd puts in the spec (kubelet sends the defaults).
  const defaults = await startTestContainer(ctx, pod, { name: 'defaults', command: ['sleep', '1000'] });
  const spec = JSON.parse(await readFile(join(ctx.containerd.base, 'state', 'io.containerd.runtime.v2.task', 'k8s.io', defaults, 'config.json'), 'utf8')) as { linux: { maskedPaths?: string[] } };
  const kcore = await sh(defaults, 'wc -c < /proc/kcore');
  if (spec.linux.maskedPaths?.includes('/proc/kcore')) assert.equal(kcore.out, '0\n', 'the spec masks /proc/kcore');
  else assert.match(kcore.out, /Operation not permitted/, 'the spec leaves /proc/kcore alone: it is the guest kernel\'s, unreadable without CAP_SYS_RAWIO');

  const none = await startTestContainer(ctx, pod, {
    name: 'nocaps', command: ['sleep', '1000'], securityContext: { capabilities: { add_capabilities: [], drop_capabilities: ['ALL'], add_ambient_capabilities: [] } },
  });
  assert.equal(await status(none, 'CapBnd'), '0000000000000000', 'drop ALL leaves no capability');
  await fails(none, 'chown 1 /tmp', /Operation not permitted/);

  const stubborn = await startTestContainer(ctx, pod, { name: 'stubborn', command: ['sh', '-c', 'trap "" TERM; while :; do sleep 1; done'] });
  const t0 = Date.now();
  await ctx.cri.stopContainer({ container_id: stubborn, timeout: 2 });
  const stopped = await waitContainerState(ctx.cri, stubborn, ['CONTAINER_EXITED']);
  assert.equal(stopped.exit_code, 137, 'SIGKILL after the grace period');
  assert.ok(Date.now() - t0 < 30_000, `the stop took ${Date.now() - t0} ms`);
  await ctx.cri.stopContainer({ container_id: stubborn, timeout: 2 });
  await ctx.cri.removeContainer({ container_id: stubborn });
  const { containers } = await ctx.cri.listContainers({ filter: { id: stubborn } });
  assert.deepEqual(containers, [], 'a stopped container is removed');
  await removeTestPod(ctx, pod.id);
});

test('what a VM cannot share is refused with the reason: the node\'s namespaces; a container asking for the pod\'s PID namespace gets its own', async () => {
  await assert.rejects(runTestPod(ctx, 'hostnet', 'sandpod-vm', undefined, { namespaces: { network: 'NODE' } }), /node's network namespace \(hostNetwork\)/);
  await assert.rejects(runTestPod(ctx, 'hostpid', 'sandpod-vm', undefined, { namespaces: { pid: 'NODE' } }), /hostPID/);
  await assert.rejects(runTestPod(ctx, 'hostipc', 'sandpod-vm', undefined, { namespaces: { ipc: 'NODE' } }), /hostIPC/);
  const pod = await runTestPod(ctx, 'podpid', 'sandpod-vm', undefined, { namespaces: { pid: 'POD' } });
  const shared = await startTestContainer(ctx, pod, { name: 'shared', command: ['sleep', '1000'], securityContext: { namespace_options: { network: 'POD', pid: 'POD', ipc: 'POD', target_id: '' } } });
  assert.equal(await ok(shared, 'cat /proc/1/cmdline | tr "\\0" " "'), 'sleep 1000 ', 'PID 1 is the container\'s own process: there is no pause process in a VM pod');
  await removeTestPod(ctx, pod.id);
});
