/**
 * Container log rotation, kubelet's containerLogMaxSize / containerLogMaxFiles: a running container's log file
 * that passes the size limit is renamed aside (`<attempt>.log.<UTC time>`), the runtime is told to reopen it
 * (CRI ReopenContainerLog), and the oldest rotated files beyond the limit are removed. So a chatty or
 * crash-looping container cannot fill the node's disk, however long it runs.
 */
import { readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { CriClient } from '../cri/index.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import { LABEL } from './cri-config.js';
import type { NodeSnapshot } from './snapshot.js';

/** kubelet's defaults. */
export const CONTAINER_LOG_MAX_BYTES = 10 * 2 ** 20;
export const CONTAINER_LOG_MAX_FILES = 5;

const stamp = (d: Date): string => d.toISOString().replace(/[-:]/g, '').replace(/\.(\d{3})Z$/, '.$1');

/** The log file of a running container, from its CRI labels (as the node agent names it). */
export function containerLogFile(logsRoot: string, c: NodeSnapshot['containers'][number]): string | undefined {
  const ns = c.labels[LABEL.podNamespace];
  const pod = c.labels[LABEL.podName];
  const uid = c.labels[LABEL.podUid];
  const name = c.labels[LABEL.containerName];
  if (!ns || !pod || !uid || !name) return undefined;
  return join(logsRoot, `${ns}_${pod}_${uid}`, name, `${c.metadata?.attempt ?? 0}.log`);
}

/** Rotated files of `log` to remove so that, with the live file, at most `maxFiles` remain (oldest first). */
export function surplusRotations(log: string, entries: string[], maxFiles: number): string[] {
  const base = log.slice(dirname(log).length + 1);
  const rotated = entries.filter((e) => e.startsWith(`${base}.`)).sort();
  return rotated.slice(0, Math.max(0, rotated.length - (maxFiles - 1))).map((e) => join(dirname(log), e));
}

export class LogRotator {
  constructor(
    private readonly cri: CriClient,
    private readonly logsRoot: string,
    private readonly log: Logger,
    private readonly maxBytes = CONTAINER_LOG_MAX_BYTES,
    private readonly maxFiles = CONTAINER_LOG_MAX_FILES,
  ) {}

  /** One pass over the snapshot's running containers. Never throws. */
  async rotate(snap: NodeSnapshot, now = new Date()): Promise<void> {
    for (const c of snap.containers) {
      if (c.state !== 'CONTAINER_RUNNING') continue;
      const file = containerLogFile(this.logsRoot, c);
      if (!file) continue;
      try {
        const size = (await stat(file).catch(() => undefined))?.size ?? 0;
        if (size <= this.maxBytes) continue;
        await rename(file, `${file}.${stamp(now)}`);
        await this.cri.reopenContainerLog({ container_id: c.id });
        for (const old of surplusRotations(file, await readdir(dirname(file)), this.maxFiles)) await rm(old, { force: true });
        this.log.info('container log rotated', { container: c.id, file, bytes: size });
      } catch (err) {
        this.log.warn('cannot rotate a container log', { container: c.id, file, err: describeError(err) });
      }
    }
  }
}

/** Removes a container instance's log and its rotated files (`<attempt>.log`, `<attempt>.log.<time>`). */
export async function removeInstanceLogs(containerLogDir: string, attempt: number): Promise<void> {
  const base = `${attempt}.log`;
  for (const e of await readdir(containerLogDir).catch(() => [])) {
    if (e === base || e.startsWith(`${base}.`)) await rm(join(containerLogDir, e), { force: true });
  }
}

/** Removes a pod's log directory, as kubelet removes /var/log/pods/<pod> with the pod. */
export async function removePodLogs(podLogDir: string): Promise<void> {
  await rm(podLogDir, { recursive: true, force: true });
}
