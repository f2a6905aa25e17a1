/**
 * The shim daemon: serves the Task API on its socket until containerd shuts it down with no task left, or its
 * containerd is gone for good. containerd starts it through `start` (launch.ts).
 */
import { rm } from 'node:fs/promises';
import type { Logger } from '../log.js';
import { resolvePaths, type SandpodPaths } from '../paths.js';
import { currentGuestImage, SandboxRuntime } from '../sandbox/index.js';
import { TtrpcServer } from '../ttrpc/index.js';
import type { AcceleratorChoice } from '../vmm/index.js';
import { EventPublisher } from './events.js';
import type { ShimFlags } from './flags.js';
import { accepts } from './launch.js';
import { registerTaskService } from './ttrpc-adapter.js';
import { TaskService } from './task-service.js';

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

