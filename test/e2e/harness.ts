/**
 * End-to-end harness: a real control plane (etcd, API server, scheduler, controller manager) under temporary roots,
 * the real kubectl with its own cache dir, and one cleanup path that stops every process by PID and proves none is
 * left.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clusterLayout, down, readState, up, type ControlPlaneState } from '../../src/cluster/index.js';
import { KubeClient } from '../../src/kube/index.js';
import { resolvePaths, type SandpodPaths } from '../../src/paths.js';

export { waitUntil } from '../../src/cluster/index.js';

/** The kubectl versions the acceptance names; a version whose binary is not installed is left out, 1.32 is required. */
export const kubectlVersions: Record<string, string> = Object.fromEntries(Object.entries({
  '1.32': '/usr/bin/kubectl',
  '1.33': '/usr/lib/google-cloud-sdk/bin/kubectl.1.33',
}).filter(([version, binary]) => version === '1.32' || existsSync(binary)));

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface TestCluster {
  root: string;
  paths: SandpodPaths;
  state: ControlPlaneState;
  client: KubeClient;
  kubectl(args: string[], opts?: { input?: string; binary?: string; timeoutMs?: number }): Promise<KubectlResult>;
  /** Writes a manifest into the test's temp dir and returns its path. */
  manifest(name: string, yaml: string): string;
  stop(): Promise<void>;
}

/** Every running test cluster; its recorded PIDs are killed if the test process exits before its cleanup ran. */
const running = new Map<string, SandpodPaths>();
let guarded = false;

function guardExit(): void {
  if (guarded) return;
  guarded = true;
  process.on('exit', () => {
    for (const paths of running.values()) {
      for (const p of readState(clusterLayout(paths))?.processes ?? []) try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ }
    }
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(1));
}

export async function startCluster(): Promise<TestCluster> {
  const root = mkdtempSync(join(tmpdir(), 'sandpod-api-e2e-'));
  const paths = resolvePaths({ stateRoot: join(root, 'state'), runRoot: join(root, 'run'), cacheRoot: join(root, 'cache') });
  guardExit();
  const state = await up(paths);
  running.set(root, paths);
  const client = KubeClient.fromKubeconfig(state.kubeconfig);
  const cacheDir = join(root, 'kubectl-cache');
  return {
    root, paths, state, client,
    kubectl: (args, opts = {}) => new Promise((resolve) => {
      const child = execFile(opts.binary ?? kubectlVersions['1.32']!, ['--kubeconfig', state.kubeconfig, '--cache-dir', cacheDir, ...args],
        { timeout: opts.timeoutMs ?? 30000, maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) => {
          const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
          resolve({ code, stdout, stderr });
        });
      child.stdin?.on('error', () => undefined);
      if (opts.input !== undefined) child.stdin?.end(opts.input);
      else child.stdin?.end();
    }),
    manifest: (name, yaml) => {
      const file = join(root, name);
      writeFileSync(file, yaml);
      return file;
    },
    stop: async () => {
      client.close();
      await down(paths);
      running.delete(root);
      const left = leftovers(root);
      rmSync(root, { recursive: true, force: true });
      if (left) throw new Error(`processes left running after the test: ${left}`);
    },
  };
}

/** A pod held back by a scheduling gate, so the scheduler never writes to it: the test alone decides when it changes. */
export function gatedPod(name: string, labels: Record<string, string> = {}): { apiVersion: 'v1'; kind: 'Pod'; metadata: { name: string; labels: Record<string, string> }; spec: Record<string, unknown> } {
  return {
    apiVersion: 'v1', kind: 'Pod', metadata: { name, labels },
    spec: { schedulingGates: [{ name: 'sandpod.io/test-hold' }], containers: [{ name: 'c', image: 'busybox:1.36' }] },
  };
}

/** Processes whose command line names the test's root, i.e. anything this test started and did not stop. */
export function leftovers(root: string): string {
  try {
    return execFileSync('pgrep', ['-af', root], { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
}
