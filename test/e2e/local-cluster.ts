/**
 * A whole local cluster for a test file, the way a user gets one: `./sandpod up` under temporary roots with a
 * pod range of its own, the real kubectl against it, and `./sandpod down` at the end with a check that no process,
 * mount, network namespace or host interface of it is left and the host's IPv4 forwarding is as it was.
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitUntil } from '../../src/wait.js';
import { clusterKey, clusterTraces, hostForwarding } from './cluster-traces.js';
import { kubectlVersions } from './harness.js';
import { processesWhere, sandpod } from './helpers.js';

export interface KubectlResult { code: number; stdout: string; stderr: string }

export interface LocalCluster {
  /** The test file's temporary directory: the cluster's state and run roots, and whatever else the test writes. */
  root: string;
  kubeconfig: string;
  /** The cluster's pod range (`up --pod-subnet`): its one node's pods get addresses from it. */
  subnet: string;
  /** The one node's network namespace, where its pod bridge (`cbr0`) and the pods' veths are. */
  nodeNetns: string;
  /** `--state-dir … --run-dir …` for further `./sandpod` calls on this cluster. */
  roots: string[];
  /** Resolves once `./sandpod up` has succeeded (node:test runs a file's top-level before hooks concurrently). */
  up: Promise<void>;
  /** kubectl's arguments for this cluster (its kubeconfig, a cache of its own), then `args`. */
  kubectlArgs(args: string[]): string[];
  /** Runs kubectl on this cluster: 1.32 unless a `version` (a key of kubectlVersions) or a `binary` is given. */
  kubectl(args: string[], opts?: { input?: string; timeoutMs?: number; version?: string; binary?: string }): Promise<KubectlResult>;
  /** kubectl that must succeed; its stdout. */
  ok(args: string[], input?: string): Promise<string>;
  jsonpath(kind: string, name: string, path: string): Promise<string>;
  waitFor(what: string, check: () => Promise<boolean>, timeoutMs?: number): Promise<void>;
  /** Writes a file into the test's temporary directory and returns its path. */
  file(name: string, content: string | Buffer): string;
  /** QEMU processes of this cluster's pods (not template VMs being made). */
  podVms(): Promise<number[]>;
}

export function execText(file: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => execFile(file, args, (err, stdout, stderr) => {
    resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0, stdout, stderr });
  }));
}

/**
 * Starts a cluster before the file's tests and takes it down after them, checking that nothing is left. Each
 * file gets a pod range (`<subnetPrefix>.N.0/24`) of its own. (`bridgePrefix` is from when pod bridges lived in the
 * host's namespace; each node has its own now.)
 */
export function localCluster(name: string, opts: { subnetPrefix?: string; bridgePrefix?: string } = {}): LocalCluster {
  const root = mkdtempSync(join(tmpdir(), `sandpod-e2e-${name}-`));
  const tag = randomBytes(2).toString('hex');
  const subnet = `${opts.subnetPrefix ?? '10.247'}.${parseInt(tag, 16) % 200}.0/24`;
  const roots = ['--state-dir', join(root, 'state'), '--run-dir', join(root, 'run')];
  const kubeconfig = join(root, 'state', 'clusters', 'local', 'default', 'kubeconfig');
  const key = clusterKey(join(root, 'state'), { resourceGroup: 'local', name: 'default' });
  const forwarding = hostForwarding();
  const kubectlArgs = (args: string[]): string[] => ['--kubeconfig', kubeconfig, '--cache-dir', join(root, 'kc'), ...args];
  let started: () => void = () => undefined;
  let failed: (err: unknown) => void = () => undefined;
  const up = new Promise<void>((resolve, reject) => { started = resolve; failed = reject; });
  up.catch(() => undefined);
  const kubectl: LocalCluster['kubectl'] = (args, o = {}) => new Promise((resolve) => {
    const binary = o.binary ?? kubectlVersions[o.version ?? '1.32'] ?? kubectlVersions['1.32']!;
    const c = execFile(binary, kubectlArgs(args), { timeout: o.timeoutMs ?? 300_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0, stdout, stderr });
    });
    // A command that exits without reading its stdin must not fail the caller with EPIPE.
    c.stdin?.on('error', () => undefined);
    c.stdin?.end(o.input ?? '');
  });
  const cluster: LocalCluster = {
    root, kubeconfig, subnet, nodeNetns: `sandpod-${key}-n0`, roots, up, kubectlArgs, kubectl,
    ok: async (args, input) => {
      const r = await kubectl(args, input === undefined ? {} : { input });
      assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    },
    jsonpath: (kind, n, path) => cluster.ok(['get', kind, n, '-o', `jsonpath={${path}}`]),
    waitFor: async (what, check, timeoutMs = 120_000) => {
      await waitUntil(async () => ((await check()) ? true : undefined), { timeoutMs, intervalMs: 500, onTimeout: () => new Error(`timed out waiting for ${what}`) });
    },
    file: (n, content) => {
      const path = join(root, n);
      writeFileSync(path, content);
      return path;
    },
    podVms: () => processesWhere((cmd) => cmd.startsWith('qemu-system') && cmd.includes(root) && !cmd.includes('\0sandpod-template-')),
  };
  before(async () => {
    try {
      const r = await sandpod(['up', ...roots, '--pod-subnet', subnet], process.env, undefined, 300_000);
      assert.equal(r.code, 0, `sandpod up failed: ${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout, /kubeconfig: /);
      started();
    } catch (err) {
      failed(err);
      throw err;
    }
  });
  after(async () => {
    const r = await sandpod(['down', ...roots], process.env, undefined, 180_000);
    const left = await clusterTraces(root, key);
    await rm(root, { recursive: true, force: true });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(left, [], 'sandpod down left nothing running, mounted or wired');
    assert.equal(hostForwarding(), forwarding, 'the host\'s IPv4 forwarding is as it was');
  });
  return cluster;
}
