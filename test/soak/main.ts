/**
 * `npm run soak -- --minutes N`: starts a local cluster on temporary roots, soaks it for N minutes (soak.ts),
 * prints the figures, takes the cluster down, and exits 1 when the soak failed its bounds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { kubectlVersions } from '../e2e/harness.js';
import { sandpod, sandpodCommand } from '../e2e/helpers.js';
import { report, runSoak } from './soak.js';

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '10' } } });
const minutes = Number(values.minutes);
if (!Number.isFinite(minutes) || minutes <= 0) {
  process.stderr.write(`soak: --minutes must be a positive number, not "${values.minutes}"\n`);
  process.exit(2);
}
const root = mkdtempSync(join(tmpdir(), 'sandpod-soak-'));
const roots = ['--state-dir', join(root, 'state'), '--run-dir', join(root, 'run')];
let code = 1;
try {
  const up = await sandpod(['up', ...roots, '--pod-subnet', '10.243.7.0/24'], process.env, undefined, 300_000);
  if (up.code !== 0) throw new Error(`sandpod up failed: ${up.stderr}`);
  const status = JSON.parse((await sandpod(['status', ...roots, '--json'], process.env)).stdout) as { kubeconfig: string };
  const result = await runSoak({ kubeconfig: status.kubeconfig, roots, sandpod: sandpodCommand, kubectl: kubectlVersions['1.32']! }, minutes,
    (line) => process.stdout.write(`${line}\n`));
  process.stdout.write(`${report(result).join('\n')}\n`);
  code = result.failures.length === 0 ? 0 : 1;
} finally {
  await sandpod(['down', ...roots], process.env, undefined, 180_000);
  rmSync(root, { recursive: true, force: true });
}
process.exit(code);
