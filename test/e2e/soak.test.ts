/**
 * The soak in the default suite: SANDPOD_SOAK_MINUTES (10 unless set) of crash loops, exec, logs, apply/delete
 * and 50 watchers on a local cluster; API p99 must not grow past 3× its first window, nor any daemon's RSS past
 * 1.5× its size after warm-up. `npm run soak -- --minutes N` runs longer soaks on their own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { report, runSoak } from '../soak/soak.js';
import { kubectlVersions } from './harness.js';
import { sandpodCommand } from './helpers.js';
import { localCluster } from './local-cluster.js';

const c = localCluster('soak', { subnetPrefix: '10.243', bridgePrefix: 'sps' });
const minutes = Number(process.env['SANDPOD_SOAK_MINUTES'] ?? 10);

test(`a cluster soaked for ${minutes} minutes keeps its latency and memory`, { timeout: (minutes + 15) * 60_000 }, async () => {
  await c.up;
  const result = await runSoak({ kubeconfig: c.kubeconfig, roots: c.roots, sandpod: sandpodCommand, kubectl: kubectlVersions['1.32']! }, minutes);
  process.stdout.write(report(result).map((l) => `# ${l}\n`).join(''));
  assert.ok(result.counts['exec']! > 0 && result.counts['logs']! > 0 && result.counts['applied']! > 0, 'the soak exercised exec, logs and apply');
  assert.deepEqual(result.failures, []);
});
