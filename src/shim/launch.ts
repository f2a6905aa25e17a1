/**
 * The shim's short-lived commands, run by containerd for every task: `start` (find or spawn the daemon that
 * serves the task's pod, print its address) and `delete` (clean up after a daemon that is gone). They import
 * only what they use: containerd runs four of them per pod, each a fresh Node.js process.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { resolvePaths, sandboxRunDir } from '../paths.js';
import { processCommandLines, sandboxIdFor, sandboxOfQemu } from '../pod-vm-identity.js';
import { encodeMessage, loadProto } from '../ttrpc/proto.js';
import { waitUntil } from '../wait.js';
import { timestamp } from './events.js';
import type { ShimFlags } from './flags.js';
import { readBundleSpec } from './oci.js';
import { groupOf, kindOf, removeShare, shareDir, unmountContainerRoot } from './pod-layout.js';

/** Where containerd's own shims put their sockets; the name hashes containerd's address, namespace and group. */
export const SHIM_SOCKET_DIR = '/run/containerd/s';

export function shimSocketPath(address: string, namespace: string, group: string): string {
  return join(SHIM_SOCKET_DIR, createHash('sha256').update(`${address}/${namespace}/${group}`).digest('hex'));
}

export const accepts = (path: string): Promise<boolean> => new Promise((resolve) => {
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
    // containerd makes this directory when its own shims first need it; on a node that has run none yet it is missing.
    await mkdir(SHIM_SOCKET_DIR, { recursive: true, mode: 0o711 });
    const child = spawn(process.execPath, [entry, '-namespace', flags.namespace, '-address', flags.address,
      '-publish-binary', flags.publishBinary, '-id', flags.id, '-socket', socket], { cwd: bundle, detached: true, stdio: 'ignore' });
    let exited: number | null = null;
    child.once('exit', (code) => { exited = code ?? 1; });
    child.unref();
    await waitUntil(async () => ((await accepts(socket)) ? true : undefined), {
      timeoutMs: 10_000,
      abort: () => (exited !== null ? new Error(`the shim daemon exited with code ${exited}${process.env['SANDPOD_LOG_FILE'] ? `; its log: ${process.env['SANDPOD_LOG_FILE']}` : ''}`) : undefined),
      onTimeout: () => new Error(`the shim daemon did not listen on ${socket} within 10 s`),
    });
  }
  await writeFile(join(bundle, 'address'), address);
  return address;
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
