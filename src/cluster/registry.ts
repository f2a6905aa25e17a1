/**
 * A local OCI registry process: Debian's docker-registry on one local address (127.0.0.1, or a cluster's host
 * address where its nodes' containerd reach it), started detached with its configuration and storage under one
 * directory (so pushed images survive restarts), and stopped by PID.
 */
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { failedPrecondition } from '../errors.js';
import { readRegistryConfig, registryArgs, registryServes, registryUrl, writeRegistryConfig, REGISTRY_BINARY } from '../images/index.js';
import { createLogger, type Logger } from '../log.js';
import { freePort, isAlive, lastLogLine, startProcess, stopProcess, waitUntil, type ManagedProcess } from './processes.js';

export interface RegistryStartOptions {
  /** Holds `config.yml` and `storage/`; keep it to keep the images. */
  dir: string;
  logFile: string;
  /** Default: the port of the previous start in `dir`, else a free one. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  logger?: Logger;
}

export interface RunningRegistry {
  url: string;
  dir: string;
  logFile: string;
  process: ManagedProcess;
}

/** Starts the registry and waits until `GET /v2/` answers; fails naming its log if it exits first. */
export async function startRegistry(opts: RegistryStartOptions): Promise<RunningRegistry> {
  const configFile = join(opts.dir, 'config.yml');
  const previous = await readRegistryConfig(configFile);
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? (previous?.host === host ? previous.port : undefined) ?? (await freePort(host));
  await writeRegistryConfig(configFile, { storageDir: join(opts.dir, 'storage'), port, host });
  mkdirSync(dirname(opts.logFile), { recursive: true });
  const proc = startProcess('registry', REGISTRY_BINARY, registryArgs(configFile), opts.logFile);
  const url = registryUrl(port, host);
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
  return { url, dir: opts.dir, logFile: opts.logFile, process: proc };
}

export const stopRegistry = (registry: { process: { pid: number } }): Promise<void> => stopProcess(registry.process.pid);
