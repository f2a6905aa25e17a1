/**
 * The shim's three lives: `start` (find or spawn the shim daemon for this task's group and print its
 * address), the daemon itself (serve the Task API until the last task is gone), and `delete` (clean up
 * after a daemon that died).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import { resolvePaths, sandboxRunDir, type SandpodPaths } from '../paths.js';
import { currentGuestImage, SandboxRuntime } from '../sandbox/index.js';
import { encodeMessage, loadProto, TtrpcServer } from '../ttrpc/index.js';
import type { AcceleratorChoice } from '../vmm/index.js';
import { waitUntil } from '../wait.js';
import { EventPublisher, timestamp } from './events.js';
import type { ShimFlags } from './flags.js';
import { readBundleSpec } from './oci.js';
import { registerTaskService } from './ttrpc-adapter.js';
import { TaskService } from './task-service.js';
import { processCommandLines, sandboxOfQemu } from '../pod-vm-identity.js';
import { groupOf, kindOf, removeShare, sandboxIdFor, shareDir, unmountContainerRoot } from './pods.js';

/** Where containerd's own shims put their sockets; the name hashes containerd's address, namespace and group. */
export const SHIM_SOCKET_DIR = '/run/containerd/s';

export function shimSocketPath(address: string, namespace: string, group: string): string {
  return join(SHIM_SOCKET_DIR, createHash('sha256').update(`${address}/${namespace}/${group}`).digest('hex'));
}

const accepts = (path: string): Promise<boolean> => new Promise((resolve) => {
  const s = connect(path);
  s.once('connect', () => { s.destroy(); resolve(true); });
  s.once('error', () => resolve(false));
});

/** `start`: prints the ttrpc address of the shim serving this task, spawning it if needed. */
export async function shimStart(flags: ShimFlags, entry: string): Promise<string> {
  const bundle = process.cwd();
  const spec = await readBundleSpec(bundle, `task/${flags.id}`);
  const group = groupOf(spec, flags.id);
  const socket = shimSocketPath(flags.address, flags.namespace, group);
  const address = `unix://${socket}`;
  if (!(await accepts(socket))) {
    await rm(socket, { force: true });
    const child = spawn(process.execPath, [entry, '-namespace', flags.namespace, '-address', flags.address,
      '-publish-binary', flags.publishBinary, '-id', flags.id, '-socket', socket], { cwd: bundle, detached: true, stdio: 'ignore' });
    let exited: number | null = null;
    child.once('exit', (code) => { exited = code ?? 1; });
    child.unref();
    await waitUntil(async () => ((await accepts(socket)) ? true : undefined), {
      timeoutMs: 10_000,
      abort: () => (exited !== null ? new Error(`the shim daemon exited with code ${exited}`) : undefined),
      onTimeout: () => new Error(`the shim daemon did not listen on ${socket} within 10 s`),
    });
  }
  await writeFile(join(bundle, 'address'), address);
  return address;
}

function shimRuntime(paths: SandpodPaths, log: Logger): SandboxRuntime {
  const accel = process.env['SANDPOD_ACCEL'];
  return new SandboxRuntime({
    paths, log, guestImage: () => currentGuestImage(paths),
    ...(accel === 'kvm' || accel === 'tcg' || accel === 'auto' ? { accel: accel as AcceleratorChoice } : {}),
  });
}

/** The daemon: serves the Task API on `socket` until containerd shuts it down with no task left. */
export async function shimServe(flags: ShimFlags & { socket: string }, log: Logger): Promise<void> {
  const events = new EventPublisher(process.env['TTRPC_ADDRESS'], flags.namespace, log);
  const paths = resolvePaths();
  // Fast start is on unless SANDPOD_TEMPLATES=off is in the shim's environment (containerd's).
  const fromTemplate = process.env['SANDPOD_TEMPLATES'] !== 'off';
  const tasks = new TaskService(shimRuntime(paths, log), paths, { fromTemplate }, events, log);
  const server = new TtrpcServer(log);
  let done!: () => void;
  const finished = new Promise<void>((resolve) => { done = resolve; });
  const exit = async (): Promise<void> => {
    await tasks.shutdownAll();
    await server.close();
    await rm(flags.socket, { force: true });
    events.close();
    log.info('shim exiting');
    done();
  };
  registerTaskService(server, tasks, {
    shimPid: process.pid,
    onShutdown: (now) => { if (now || tasks.taskCount === 0) setTimeout(() => void exit(), 20); },
  });
  await server.listen(flags.socket);
  process.on('SIGTERM', () => void exit());
  // A restart of containerd is ridden out (it reconnects to its shims); one gone for good (its node taken down)
  // leaves no shim and no VM behind.
  const containerd = flags.address?.replace(/^unix:\/\//, '');
  const watchdog = containerd ? holdsFor(async () => !(await accepts(containerd)), CONTAINERD_GONE_MS, () => {
    log.warn('containerd has been gone too long; stopping every task and exiting', { address: flags.address, afterMs: CONTAINERD_GONE_MS });
    void exit();
  }) : undefined;
  const idleWatch = holdsFor(() => tasks.idle, SHIM_IDLE_MS, () => {
    log.warn('no task for a while (containerd went away before it created one); exiting', { afterMs: SHIM_IDLE_MS });
    void exit();
  });
  log.info('shim serving', { id: flags.id, socket: flags.socket });
  await finished;
  clearInterval(watchdog);
  clearInterval(idleWatch);
}

/** How long a shim waits for a containerd that stopped answering before it takes its VMs down and exits. */
const CONTAINERD_GONE_MS = 30_000;

/**
 * How long a shim with no task lives: containerd creates the first task right after `start` and shuts the shim
 * down after the last, so an idle shim is one whose containerd died in between (and the new one never knew it).
 */
const SHIM_IDLE_MS = 60_000;

/** Calls `then` once `condition` has held for `ms` without a break (checked every 5 s). */
function holdsFor(condition: () => boolean | Promise<boolean>, ms: number, then: () => void): NodeJS.Timeout {
  let since: number | undefined;
  const timer = setInterval(() => void Promise.resolve(condition()).then((holds) => {
    if (!holds) { since = undefined; return; }
    since ??= Date.now();
    if (Date.now() - since >= ms) {
      clearInterval(timer);
      then();
    }
  }), 5_000);
  timer.unref();
  return timer;
}

const deleteResponse = loadProto('./task.proto', import.meta.url).lookupType('containerd.task.v2.DeleteResponse');

/** QEMU processes of the pod VM named `sandpod-<sid>` (the name the runtime gives its VMs, pod-vm-identity.ts). */
async function podVmProcesses(sid: string): Promise<number[]> {
  return (await processCommandLines()).filter((p) => sandboxOfQemu(p.argv) === sid).map((p) => p.pid);
}

async function killPodVm(sid: string): Promise<void> {
  for (const pid of await podVmProcesses(sid)) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
  await waitUntil(async () => ((await podVmProcesses(sid)).length === 0 ? true : undefined), {
    timeoutMs: 5_000, onTimeout: () => new Error(`the QEMU of pod VM ${sid} survived SIGKILL`),
  }).catch(() => undefined);
}

/**
 * `delete`: what a dead daemon left for this task. containerd runs it after every task's connection closes,
 * so also after an ordinary Delete while the pod's VM runs on: a daemon still serving the group owns its
 * pod and is left alone, and the pod's share (the VM's 9p export) goes only once no VM of the pod runs.
 * For a pod sandbox or a task with a VM of its own, the VM is killed and its run files removed.
 * Prints DeleteResponse.
 */
export async function shimDelete(flags: ShimFlags): Promise<Uint8Array> {
  const bundle = flags.bundle ?? process.cwd();
  const paths = resolvePaths();
  const spec = await readBundleSpec(bundle, `task/${flags.id}`).catch(() => undefined);
  const group = spec ? groupOf(spec, flags.id) : flags.id;
  const share = shareDir(paths, group);
  const sid = sandboxIdFor(group);
  const ownVm = group === flags.id;
  const daemonServes = await accepts(shimSocketPath(flags.address, flags.namespace, group));
  if (ownVm) {
    await killPodVm(sid);
    await rm(sandboxRunDir(paths, sid), { recursive: true, force: true });
  }
  if ((!spec || kindOf(spec) === 'container') && (ownVm || !daemonServes)) await unmountContainerRoot(bundle, share, flags.id);
  if ((ownVm || !daemonServes) && (await podVmProcesses(sid)).length === 0) await removeShare(share).catch(() => undefined);
  return encodeMessage(deleteResponse, { pid: 0, exit_status: 137, exited_at: timestamp(Date.now()) });
}
