/** A single-member etcd on loopback, its data under the cluster's state root. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { failedPrecondition } from '../errors.js';
import { freePort, isAlive, startProcess, stopProcess, waitUntil, type ManagedProcess } from './processes.js';

export interface EtcdMember {
  process: ManagedProcess;
  endpoint: string;
}

export const etcdBinary = process.env['SANDPOD_ETCD_BINARY'] ?? '/usr/bin/etcd';

/** Starts etcd with data in `dataDir` and waits until it answers a read. */
export async function startEtcd(dataDir: string, logFile: string): Promise<EtcdMember> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const { clientPort, peerPort } = await memberPorts(dataDir);
  const client = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const proc = startProcess('etcd', etcdBinary, [
    '--name', 'sandpod',
    '--data-dir', join(dataDir, 'member-data'),
    '--listen-client-urls', client, '--advertise-client-urls', client,
    '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
    '--initial-cluster', `sandpod=${peer}`,
    '--auto-compaction-mode', 'periodic', '--auto-compaction-retention', '1h',
    '--logger', 'zap', '--log-outputs', 'stderr',
  ], logFile);
  const member = { process: proc, endpoint: client };
  try {
    await waitForEtcd(client, 20000, proc.pid, logFile);
  } catch (err) {
    await stopProcess(proc.pid);
    throw err;
  }
  return member;
}

/** The member's ports: chosen once and kept with its data, because etcd remembers its peer URL. */
async function memberPorts(dataDir: string): Promise<{ clientPort: number; peerPort: number }> {
  const file = join(dataDir, 'ports.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as { clientPort: number; peerPort: number };
  const ports = { clientPort: await freePort(), peerPort: await freePort() };
  writeFileSync(file, JSON.stringify(ports));
  return ports;
}

/** Waits until etcd answers a read; fails early, naming its log, if the process exits. */
export async function waitForEtcd(endpoint: string, timeoutMs: number, pid?: number, logFile?: string): Promise<void> {
  const c = new Etcd3({ hosts: endpoint, dialTimeout: 1000 });
  try {
    await waitUntil(`etcd at ${endpoint}${logFile ? ` (log: ${logFile})` : ''}`, async () => {
      if (pid !== undefined && !isAlive(pid)) throw failedPrecondition('etcd', `etcd exited during startup; see ${logFile ?? 'its log'}`);
      await c.get('/health-probe').exec();
      return true;
    }, timeoutMs, 200);
  } finally {
    c.close();
  }
}
