/**
 * The cluster's local OCI registry process: Debian's docker-registry on 127.0.0.1, started detached with its
 * configuration and storage under the cluster's state directory (so pushed images survive restarts) and
 * recorded in `<run>/clusters/<name>/registry.json`, which `clusterRegistryUrl` reads to find it.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { failedPrecondition } from '../errors.js';
import { readRegistryConfig, registryArgs, registryServes, registryUrl, writeRegistryConfig, REGISTRY_BINARY } from '../images/index.js';
import { createLogger, type Logger } from '../log.js';
import type { SandpodPaths } from '../paths.js';
import { clusterLayout } from './layout.js';
import { freePort, isAlive, startProcess, stopProcess, waitUntil, type ManagedProcess } from './processes.js';

export interface RegistryStartOptions {
  /** Holds `config.yml` and `storage/`; keep it to keep the images. */
  dir: string;
  logFile: string;
  /** Default: the port of the previous start in `dir`, else a free one. */
  port?: number;
  logger?: Logger;
}

const registryRecord = z.object({
  pid: z.number().int().positive(),
  url: z.string().url(),
  dir: z.string(),
  logFile: z.string(),
});

/** A running registry, as recorded for the cluster. */
export type RegistryRecord = z.infer<typeof registryRecord>;

export interface RunningRegistry extends RegistryRecord {
  process: ManagedProcess;
}

/** Starts the registry and waits until `GET /v2/` answers; fails naming its log if it exits first. */
export async function startRegistry(opts: RegistryStartOptions): Promise<RunningRegistry> {
  const configFile = join(opts.dir, 'config.yml');
  const previous = await readRegistryConfig(configFile);
  const port = opts.port ?? previous?.port ?? (await freePort());
  await writeRegistryConfig(configFile, { storageDir: join(opts.dir, 'storage'), port });
  mkdirSync(dirname(opts.logFile), { recursive: true });
  const proc = startProcess('registry', REGISTRY_BINARY, registryArgs(configFile), opts.logFile);
  const url = registryUrl(port);
  try {
    await waitUntil(`the registry at ${url} (log: ${opts.logFile})`, async () => {
      if (!isAlive(proc.pid)) {
        throw failedPrecondition('registry', `${REGISTRY_BINARY} exited during startup: ${lastLogLine(opts.logFile)}; see ${opts.logFile} (port ${port} taken? run scripts/setup if it is missing)`);
      }
      return (await registryServes(url)) || undefined;
    }, 20_000, 100);
  } catch (err) {
    await stopProcess(proc.pid);
    throw err;
  }
  (opts.logger ?? createLogger('registry')).info('registry started', { object: 'registry', pid: proc.pid, url, dir: opts.dir });
  return { pid: proc.pid, url, dir: opts.dir, logFile: opts.logFile, process: proc };
}

export const stopRegistry = (registry: { pid: number }): Promise<void> => stopProcess(registry.pid);

function lastLogLine(file: string): string {
  const lines = existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n') : [];
  return lines[lines.length - 1]?.trim() || 'no output';
}

/** Where a cluster records its running registry (beside the control plane's record, in the run root). */
export const registryStateFile = (paths: SandpodPaths, clusterName?: string): string =>
  join(dirname(clusterLayout(paths, clusterName).stateFile), 'registry.json');

/** The registry directory of a cluster: durable, under its state directory. */
export const clusterRegistryDir = (paths: SandpodPaths, clusterName?: string): string => join(clusterLayout(paths, clusterName).dir, 'registry');

/** Starts the cluster's registry (storage kept under its state directory) and records it. */
export async function startClusterRegistry(paths: SandpodPaths, opts: { clusterName?: string; port?: number; logger?: Logger } = {}): Promise<RunningRegistry> {
  const layout = clusterLayout(paths, opts.clusterName);
  const running = readRegistryRecord(paths, opts.clusterName);
  if (running && isAlive(running.pid)) {
    throw failedPrecondition(`cluster ${layout.dir}`, `its registry is already running at ${running.url} (pid ${running.pid}); stop it first`);
  }
  const registry = await startRegistry({
    dir: clusterRegistryDir(paths, opts.clusterName), logFile: join(layout.logs, 'registry.log'),
    ...(opts.port !== undefined ? { port: opts.port } : {}), ...(opts.logger ? { logger: opts.logger } : {}),
  });
  const file = registryStateFile(paths, opts.clusterName);
  mkdirSync(dirname(file), { recursive: true });
  const { process: _process, ...record } = registry;
  writeFileSync(file, JSON.stringify(record, null, 2));
  return registry;
}

/** Stops the cluster's registry if it runs and forgets it. Returns whether one was running. */
export async function stopClusterRegistry(paths: SandpodPaths, clusterName?: string): Promise<boolean> {
  const record = readRegistryRecord(paths, clusterName);
  const wasRunning = record !== undefined && isAlive(record.pid);
  if (record) await stopRegistry(record);
  rmSync(registryStateFile(paths, clusterName), { force: true });
  return wasRunning;
}

function readRegistryRecord(paths: SandpodPaths, clusterName?: string): RegistryRecord | undefined {
  const file = registryStateFile(paths, clusterName);
  if (!existsSync(file)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
  const parsed = registryRecord.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

export type RegistryStatus =
  | { state: 'running'; record: RegistryRecord }
  /** Recorded, but the process is gone or does not answer `GET /v2/`. */
  | { state: 'unreachable'; record: RegistryRecord; reason: string }
  | { state: 'stopped'; stateFile: string };

/** Whether the cluster's registry runs and answers. */
export async function clusterRegistryStatus(paths: SandpodPaths, clusterName?: string): Promise<RegistryStatus> {
  const record = readRegistryRecord(paths, clusterName);
  if (!record) return { state: 'stopped', stateFile: registryStateFile(paths, clusterName) };
  if (!isAlive(record.pid)) return { state: 'unreachable', record, reason: `its process ${record.pid} is gone` };
  if (!(await registryServes(record.url))) return { state: 'unreachable', record, reason: `${record.url}/v2/ does not answer (log: ${record.logFile})` };
  return { state: 'running', record };
}

/** The URL of the cluster's running registry, or undefined when none runs. */
export async function clusterRegistryUrl(paths: SandpodPaths, clusterName?: string): Promise<string | undefined> {
  const status = await clusterRegistryStatus(paths, clusterName);
  return status.state === 'running' ? status.record.url : undefined;
}
