/**
 * The control plane's processes: etcd (unless existing endpoints are named), the API server, the scheduler and the
 * controller manager, each a detached process with its own log. A cluster (cluster.ts) starts them as part of
 * itself; `up`/`down` here run a bare control plane, recorded by PID so `down` stops exactly what `up` started (the
 * API tests' harness).
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensurePki, readToken, writeKubeconfig } from '../api/index.js';
import { failedPrecondition } from '../errors.js';
import { KubeClient } from '../kube/index.js';
import type { SandpodPaths } from '../paths.js';
import { startEtcd } from './etcd.js';
import { clusterLayout, type ClusterLayout } from './layout.js';
import { freePort, isAlive, lastLogLine, startProcess, stopProcess, waitUntil, type ManagedProcess } from './processes.js';

export interface ControlPlaneState {
  etcdEndpoints: string[];
  apiServer: string;
  kubeconfig: string;
  processes: ManagedProcess[];
}

export interface UpOptions {
  /** Use these etcd endpoints instead of starting a member. */
  etcdEndpoints?: string[];
  progress?: (step: string) => void;
  clusterName?: string;
}

const daemonScript = join(dirname(fileURLToPath(import.meta.url)), 'daemon.js');

function readPorts(layout: ClusterLayout): { apiServer?: number } {
  return existsSync(layout.portsFile) ? (JSON.parse(readFileSync(layout.portsFile, 'utf8')) as { apiServer?: number }) : {};
}

export function readState(layout: ClusterLayout): ControlPlaneState | undefined {
  if (!existsSync(layout.stateFile)) return undefined;
  return JSON.parse(readFileSync(layout.stateFile, 'utf8')) as ControlPlaneState;
}

function writeState(layout: ClusterLayout, state: ControlPlaneState): void {
  mkdirSync(dirname(layout.stateFile), { recursive: true });
  writeFileSync(layout.stateFile, JSON.stringify(state, null, 2));
}

export interface ApiServerStartOptions {
  /** Default: the port recorded in the layout's ports file, else a free one (then recorded). */
  port?: number;
  /** Addresses served besides 127.0.0.1 (a cluster's host address); the serving certificate must name them. */
  extraHosts?: string[];
}

/** Starts the API server process and waits until it answers /readyz on 127.0.0.1. */
export async function startApiServer(layout: ClusterLayout, etcdEndpoints: string[], opts: ApiServerStartOptions = {}): Promise<{ process: ManagedProcess; url: string; port: number }> {
  let port = opts.port;
  if (port === undefined) {
    const ports = readPorts(layout);
    port = ports.apiServer ?? (await freePort());
    writeFileSync(layout.portsFile, JSON.stringify({ ...ports, apiServer: port }));
  }
  const log = join(layout.logs, 'apiserver.log');
  const proc = startProcess('apiserver', process.execPath, ['--enable-source-maps', daemonScript, 'apiserver', '--etcd-endpoints', etcdEndpoints.join(','), '--pki', layout.pki, '--port', String(port),
    ...(opts.extraHosts ?? []).flatMap((h) => ['--extra-host', h])], log, { ...process.env, SANDPOD_LOG_FILE: log });
  const url = `https://127.0.0.1:${port}`;
  const client = new KubeClient({ server: url, ca: readFileSync(join(layout.pki, 'ca.crt')), token: '' });
  try {
    await waitUntil(`the API server at ${url} (log: ${log})`, async () => {
      if (!isAlive(proc.pid)) {
        throw failedPrecondition('apiserver', `the API server exited during startup: ${lastLogLine(log)} (log: ${log})`);
      }
      return (await client.raw('GET', '/readyz')).code === 200 || undefined;
    }, 30000, 100);
  } catch (err) {
    await stopProcess(proc.pid);
    throw err;
  } finally {
    client.close();
  }
  return { process: proc, url, port };
}

/** The control plane's clients of the API, started in this order once the API server answers, with what `up` says. */
export const API_CLIENT_DAEMONS = [
  { name: 'scheduler', step: 'starting the scheduler' },
  { name: 'controller-manager', step: 'starting the controller manager' },
] as const;

/** Starts a daemon that talks to the cluster only through the API, with the cluster's kubeconfig. */
export function startApiClientDaemon(layout: ClusterLayout, name: (typeof API_CLIENT_DAEMONS)[number]['name']): ManagedProcess {
  const log = join(layout.logs, `${name}.log`);
  return startProcess(name, process.execPath, ['--enable-source-maps', daemonScript, name, '--kubeconfig', layout.kubeconfig], log, { ...process.env, SANDPOD_LOG_FILE: log });
}

/** Brings the control plane up; fails if one is already running for this cluster. */
export async function up(paths: SandpodPaths, opts: UpOptions = {}): Promise<ControlPlaneState> {
  const layout = clusterLayout(paths, opts.clusterName);
  const say = opts.progress ?? ((): void => undefined);
  const running = readState(layout);
  if (running && running.processes.some((p) => isAlive(p.pid))) {
    throw failedPrecondition(`cluster ${layout.dir}`, `the control plane is already running (kubeconfig ${running.kubeconfig}); run "sandpod down" first`);
  }
  mkdirSync(layout.logs, { recursive: true });
  const processes: ManagedProcess[] = [];
  const state = (): ControlPlaneState => ({ etcdEndpoints, apiServer, kubeconfig: layout.kubeconfig, processes });
  let etcdEndpoints = opts.etcdEndpoints ?? [];
  let apiServer = '';
  try {
    if (etcdEndpoints.length === 0) {
      say('starting etcd');
      const etcd = await startEtcd(layout.etcdData, join(layout.logs, 'etcd.log'));
      processes.push(etcd.process);
      etcdEndpoints = [etcd.endpoint];
      writeState(layout, state());
    }
    say('preparing certificates');
    const pki = ensurePki(layout.pki);
    say('starting the API server');
    const api = await startApiServer(layout, etcdEndpoints);
    processes.push(api.process);
    apiServer = api.url;
    writeKubeconfig(layout.kubeconfig, { server: api.url, caCertFile: pki.caCert, token: readToken(pki) });
    writeState(layout, state());
    for (const d of API_CLIENT_DAEMONS) {
      say(d.step);
      processes.push(startApiClientDaemon(layout, d.name));
      writeState(layout, state());
    }
    return state();
  } catch (err) {
    for (const p of processes.reverse()) await stopProcess(p.pid);
    rmSync(layout.stateFile, { force: true });
    throw err;
  }
}

/** Stops every process `up` recorded, newest first. Returns what was stopped. */
export async function down(paths: SandpodPaths, opts: { clusterName?: string; progress?: (step: string) => void } = {}): Promise<ManagedProcess[]> {
  const layout = clusterLayout(paths, opts.clusterName);
  const state = readState(layout);
  if (!state) return [];
  const stopped: ManagedProcess[] = [];
  for (const p of [...state.processes].reverse()) {
    if (isAlive(p.pid)) {
      opts.progress?.(`stopping ${p.name} (pid ${p.pid})`);
      await stopProcess(p.pid);
      stopped.push(p);
    }
  }
  rmSync(layout.stateFile, { force: true });
  return stopped;
}
