/**
 * bench/pod-start: `kubectl apply` to Ready for a plain pod and a VM pod, side by side on one local cluster
 * (`sandpod up` under temporary roots), BENCH_RUNS each (default 5). Prints p50/p90 and the ratio; asserts
 * nothing. The first VM pod of the run makes the VM template and is not counted.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kubectlVersions } from '../test/e2e/harness.js';
import { sandpod } from '../test/e2e/helpers.js';

const RUNS = Math.max(5, Number(process.env['BENCH_RUNS'] ?? 5));
const root = mkdtempSync(join(tmpdir(), 'sandpod-bench-pods-'));
const roots = ['--state-dir', join(root, 'state'), '--run-dir', join(root, 'run')];
const kubeconfig = join(root, 'state', 'clusters', 'local', 'default', 'kubeconfig');

const kubectl = (args: string[], input?: string): Promise<string> => new Promise((resolve, reject) => {
  const c = execFile(kubectlVersions['1.32']!, ['--kubeconfig', kubeconfig, '--cache-dir', join(root, 'kc'), ...args], { timeout: 300_000 },
    (err, stdout, stderr) => (err ? reject(new Error(`kubectl ${args.join(' ')}: ${stderr}`)) : resolve(stdout)));
  c.stdin?.on('error', () => undefined);
  c.stdin?.end(input ?? '');
});

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
};

async function applyToReady(name: string, runtimeClass: string | undefined): Promise<number> {
  const manifest = `apiVersion: v1
kind: Pod
metadata: {name: ${name}}
spec:
  terminationGracePeriodSeconds: 0
${runtimeClass ? `  runtimeClassName: ${runtimeClass}\n` : ''}  containers:
  - {name: main, image: busybox, imagePullPolicy: IfNotPresent, command: ["sleep", "3600"]}
`;
  const t0 = performance.now();
  await kubectl(['apply', '-f', '-'], manifest);
  await kubectl(['wait', '--for=condition=Ready', `pod/${name}`, '--timeout=300s']);
  const ms = performance.now() - t0;
  await kubectl(['delete', 'pod', name, '--wait=true']);
  return ms;
}

async function main(): Promise<void> {
  const tag = randomBytes(2).toString('hex');
  const up = await sandpod(['up', ...roots, '--pod-subnet', `10.247.${parseInt(tag, 16) % 200}.0/24`], process.env, undefined, 300_000);
  if (up.code !== 0) throw new Error(`sandpod up failed: ${up.stderr}`);
  try {
    await applyToReady(`warm-plain`, undefined);
    await applyToReady(`warm-vm`, 'kata-vm-isolation');
    const plain: number[] = [];
    const vm: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      plain.push(await applyToReady(`plain-${i}`, undefined));
      vm.push(await applyToReady(`vm-${i}`, 'kata-vm-isolation'));
      process.stderr.write(`  run ${i + 1}/${RUNS}: plain ${plain[i]?.toFixed(0)} ms, VM ${vm[i]?.toFixed(0)} ms\n`);
    }
    process.stdout.write(`pod-start: kubectl apply -> Ready, ${RUNS} runs each (busybox, imagePullPolicy IfNotPresent)\n`);
    process.stdout.write(`  plain pod (runc)            p50 ${pct(plain, 50).toFixed(0)} ms  p90 ${pct(plain, 90).toFixed(0)} ms\n`);
    process.stdout.write(`  VM pod (kata-vm-isolation)  p50 ${pct(vm, 50).toFixed(0)} ms  p90 ${pct(vm, 90).toFixed(0)} ms\n`);
    process.stdout.write(`  ratio VM / plain at p50: ${(pct(vm, 50) / pct(plain, 50)).toFixed(1)}x\n`);
  } finally {
    await sandpod(['down', ...roots], process.env, undefined, 180_000);
    await rm(root, { recursive: true, force: true });
  }
}

await main();
