/**
 * The cluster store: one record per cluster (`<state>/clusters/<resource group>/<name>/cluster.json`) holding its
 * network, its node pools and their nodes, and a lock per cluster so two commands never change one cluster at once.
 * Everything else a cluster has on disk lives in its directory and its run directory, whose layout follows from the
 * record (see ClusterLayout); deleting the cluster removes both.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { failedPrecondition, notFound } from '../errors.js';
import type { SandpodPaths } from '../paths.js';
import { readJsonFile, writeJsonFile } from './json-file.js';
import { isAlive } from './processes.js';
import { MODES, TAINT_EFFECTS } from './rules.js';

/** The local resource group: `--resource-group` when none is given. */
export const LOCAL_RESOURCE_GROUP = 'local';

export const provisioningStates = ['Creating', 'Starting', 'Stopping', 'Updating', 'Scaling', 'Deleting', 'Succeeded', 'Failed'] as const;
export type ProvisioningState = typeof provisioningStates[number];

export const nodeRecordSchema = z.object({
  name: z.string(),
  /** The node's number in the cluster: its address, namespace and socket names follow from it. */
  index: z.number().int().nonnegative(),
  address: z.string(),
  podCidr: z.string(),
}).strict();
export type NodeRecord = z.infer<typeof nodeRecordSchema>;

export const poolRecordSchema = z.object({
  name: z.string(),
  mode: z.enum(MODES),
  workloadRuntime: z.string(),
  osSku: z.string(),
  vmSize: z.string(),
  count: z.number().int().nonnegative(),
  maxPods: z.number().int().positive(),
  podSubnet: z.string().optional(),
  labels: z.record(z.string(), z.string()),
  taints: z.array(z.object({ key: z.string(), value: z.string().optional(), effect: z.enum(TAINT_EFFECTS) }).strict()),
  provisioningState: z.enum(provisioningStates),
  nodes: z.array(nodeRecordSchema),
}).strict();
export type PoolRecord = z.infer<typeof poolRecordSchema>;

export const clusterRecordSchema = z.object({
  apiVersion: z.literal('sandpod.io/v1'),
  kind: z.literal('Cluster'),
  name: z.string(),
  resourceGroup: z.string(),
  createdAt: z.string(),
  provisioningState: z.enum(provisioningStates),
  powerState: z.enum(['Running', 'Stopped']),
  /** The last failure of a long operation, shown until the next one succeeds. */
  lastError: z.string().optional(),
  network: z.object({
    /** This cluster's node network (a /24 of 10.224.0.0/16); the host holds its first address. */
    nodeNetwork: z.string(),
    /** The pod range split among the nodes of pools without a pod subnet of their own. */
    podCidr: z.string(),
  }).strict(),
  /** An existing etcd to use instead of starting one. */
  etcdEndpoints: z.array(z.string()).optional(),
  /** The API server's port, chosen once so kubeconfigs stay valid. */
  apiServerPort: z.number().int().positive().optional(),
  pools: z.array(poolRecordSchema),
}).strict();
export type ClusterRecord = z.infer<typeof clusterRecordSchema>;

export interface ClusterId { resourceGroup: string; name: string }

export const describeCluster = (id: ClusterId): string => `cluster ${id.name} (resource group ${id.resourceGroup})`;

export class ClusterStore {
  constructor(readonly paths: SandpodPaths) {}

  /** Durable: the record, etcd, PKI, kubeconfigs, logs, the registry's images, the nodes' files. */
  dir(id: ClusterId): string {
    return join(this.paths.stateRoot, 'clusters', id.resourceGroup, id.name);
  }

  /** What runs now: the daemon set and the supervisor's status. */
  runDir(id: ClusterId): string {
    return join(this.paths.runRoot, 'clusters', id.resourceGroup, id.name);
  }

  /** A short name for the cluster on this machine (network namespaces, interfaces, sockets), unique per state root. */
  key(id: ClusterId): string {
    return createHash('sha256').update(`${this.paths.stateRoot}\0${id.resourceGroup}\0${id.name}`).digest('hex').slice(0, 8);
  }

  /** Sockets live apart from the run directory: a unix socket path has at most 107 bytes. */
  socketDir(): string {
    return join(this.paths.runRoot, 'sockets');
  }

  private recordFile(id: ClusterId): string {
    return join(this.dir(id), 'cluster.json');
  }

  get(id: ClusterId): ClusterRecord | undefined {
    return readJsonFile(this.recordFile(id), clusterRecordSchema, `the record of ${describeCluster(id)}`);
  }

  require(id: ClusterId): ClusterRecord {
    const r = this.get(id);
    if (r) return r;
    const others = this.list().filter((c) => c.name === id.name).map((c) => c.resourceGroup);
    const hint = others.length > 0 ? `; a cluster of that name exists in resource group ${others.join(', ')} (pass --resource-group)` : '; "sandpod list" shows the clusters';
    throw notFound(describeCluster(id), `it does not exist${hint}`);
  }

  save(record: ClusterRecord): void {
    writeJsonFile(this.recordFile(record), clusterRecordSchema.parse(record));
  }

  /** Every cluster, by resource group then name. */
  list(resourceGroup?: string): ClusterRecord[] {
    const root = join(this.paths.stateRoot, 'clusters');
    const groups = resourceGroup ? [resourceGroup] : (existsSync(root) ? readdirSync(root) : []);
    const out: ClusterRecord[] = [];
    for (const group of groups.sort()) {
      const dir = join(root, group);
      if (!existsSync(dir)) continue;
      for (const name of readdirSync(dir).sort()) {
        if (!existsSync(join(dir, name, 'cluster.json'))) continue;
        const r = this.get({ resourceGroup: group, name });
        if (r) out.push(r);
      }
    }
    return out;
  }

  /** Removes the record and everything in the cluster's directories. */
  remove(id: ClusterId): void {
    rmSync(this.dir(id), { recursive: true, force: true });
    rmSync(this.runDir(id), { recursive: true, force: true });
    for (const dir of [join(this.paths.stateRoot, 'clusters', id.resourceGroup), join(this.paths.runRoot, 'clusters', id.resourceGroup)]) {
      if (existsSync(dir) && readdirSync(dir).length === 0) rmSync(dir, { recursive: true, force: true });
    }
  }

  /**
   * Takes the cluster's lock for one command (a file holding the command's PID; a lock whose holder has exited is
   * taken over). Fails at once when another command holds it.
   */
  lock(id: ClusterId): () => void {
    const dir = join(this.paths.runRoot, 'locks');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${this.key(id)}.lock`);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(file, 'wx');
        writeSync(fd, String(process.pid));
        closeSync(fd);
        return () => rmSync(file, { force: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const holder = Number(readFileSync(file, 'utf8'));
        if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
          throw failedPrecondition(describeCluster(id), `it is being changed by another sandpod command (pid ${holder}); wait for it to finish`);
        }
        rmSync(file, { force: true });
      }
    }
    throw failedPrecondition(describeCluster(id), `cannot take the lock of ${describeCluster(id)} (${file})`);
  }
}
