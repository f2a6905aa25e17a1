/**
 * The local OCI registry Sandpod runs: Debian's `docker-registry` (the CNCF distribution registry) on
 * loopback or a cluster's host address (where its nodes reach it), over plain HTTP, with a configuration file and a storage directory of its own. This module knows
 * the registry's configuration and how to tell it is serving; src/cluster starts and stops the process.
 */
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import { parse, stringify } from 'yaml';
import { z } from 'zod';
import { invalid } from '../errors.js';

export const REGISTRY_BINARY = process.env['SANDPOD_REGISTRY_BINARY'] ?? '/usr/bin/docker-registry';

export interface RegistryConfig {
  /** Where blobs and manifests are kept; keep it across restarts to keep the images. */
  storageDir: string;
  /** The port to listen on. */
  port: number;
  /** The address to listen on: 127.0.0.1 (default) or a cluster's host address, never a wildcard. */
  host?: string;
}

/** The part of the registry's configuration Sandpod reads back (the rest it only writes). */
const configSchema = z.object({
  storage: z.object({ filesystem: z.object({ rootdirectory: z.string().min(1) }) }),
  http: z.object({ addr: z.string().regex(/^\d{1,3}(\.\d{1,3}){3}:\d+$/) }),
});

/** The registry's configuration file: filesystem storage, one local address, no TLS and no authentication. */
export function registryConfigYaml(config: RegistryConfig): string {
  return stringify({
    version: 0.1,
    log: { level: 'info', formatter: 'text', fields: { service: 'sandpod-registry' } },
    storage: {
      filesystem: { rootdirectory: config.storageDir },
      delete: { enabled: true },
      cache: { blobdescriptor: 'inmemory' },
    },
    http: {
      addr: `${config.host ?? '127.0.0.1'}:${config.port}`,
      // Signs upload session state; a new one per start only invalidates uploads cut off by the restart.
      secret: randomBytes(16).toString('hex'),
      headers: { 'X-Content-Type-Options': ['nosniff'] },
    },
  });
}

export async function writeRegistryConfig(file: string, config: RegistryConfig): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await mkdir(config.storageDir, { recursive: true });
  await writeFile(file, registryConfigYaml(config));
}

/** The configuration a previous start wrote, or undefined if there is none. */
export async function readRegistryConfig(file: string): Promise<RegistryConfig | undefined> {
  const text = await readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const parsed = configSchema.safeParse(parse(text));
  if (!parsed.success) throw invalid(`registry config ${file}`, `not a configuration Sandpod wrote (${parsed.error.issues[0]?.message ?? 'invalid'}); remove it and start the registry again`);
  const [host, port] = parsed.data.http.addr.split(':');
  return { storageDir: parsed.data.storage.filesystem.rootdirectory, port: Number(port), host: host ?? '127.0.0.1' };
}

export const registryArgs = (configFile: string): string[] => ['serve', configFile];

export const registryUrl = (port: number, host = '127.0.0.1'): string => `http://${host}:${port}`;

/** Whether the registry at `url` serves the distribution API: `GET /v2/` answers 200. */
export async function registryServes(url: string, timeoutMs = 1_000): Promise<boolean> {
  try {
    const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel();
    return res.status === 200;
  } catch {
    return false;
  }
}
