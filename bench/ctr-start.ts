/**
 * bench/ctr-start: `ctr run` time to first output, runc beside the Sandpod shim (cold boot, and fast start
 * from a template), each through its own private containerd in the same run. Prints p50/p90 and the ratios
 * to runc; asserts nothing.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxImageArchive, BUSYBOX_IMAGE } from '../src/images/index.js';
import { resolvePaths } from '../src/paths.js';
import { startContainerd, type TestContainerd } from '../test/e2e/containerd.js';
import { shimEnvironment } from '../test/e2e/helpers.js';

const RUNS = Math.max(5, Number(process.env['BENCH_RUNS'] ?? 5));

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
};

/** Runs `ctr run --rm … echo first` and resolves with the milliseconds to its first byte of output and to its exit. */
function ctrRun(c: TestContainerd, runtime: string[], id: string): Promise<{ first: number; exit: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let first = NaN;
    const p = spawn('ctr', ['--address', c.address, '--namespace', c.namespace, 'run', '--rm', ...runtime, BUSYBOX_IMAGE, id, 'echo', 'first'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    p.stdout.once('data', () => { first = performance.now() - t0; });
    p.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    p.on('error', reject);
    p.on('close', (code) => (code === 0 && !Number.isNaN(first) ? resolve({ first, exit: performance.now() - t0 }) : reject(new Error(`ctr run ${id} exited ${code}: ${err}`))));
  });
}

interface Mode { name: string; runtime: string[]; env: Record<string, string>; warmUp: boolean }

async function main(): Promise<void> {
  const base = await mkdtemp(join(tmpdir(), 'sandpod-bench-ctr-'));
  try {
    const env = await shimEnvironment(base);
    const image = await busyboxImageArchive(resolvePaths());
    const shim = ['--runtime', 'io.containerd.sandpod.v2'];
    const modes: Mode[] = [
      { name: 'runc', runtime: [], env: {}, warmUp: true },
      { name: 'shim, cold boot', runtime: shim, env: { SANDPOD_TEMPLATES: 'off' }, warmUp: true },
      // The warm-up run makes the template (one boot and a save); the measured runs restore it.
      { name: 'shim, from template', runtime: shim, env: {}, warmUp: true },
    ];
    const results = new Map<string, { first: number[]; exit: number[] }>();
    for (const mode of modes) {
      const c = await startContainerd(join(base, `containerd-${results.size}`), { ...env, ...mode.env });
      try {
        await c.importImage(image);
        if (mode.warmUp) await ctrRun(c, mode.runtime, 'warm-up');
        const r = { first: [] as number[], exit: [] as number[] };
        for (let i = 0; i < RUNS; i++) {
          const m = await ctrRun(c, mode.runtime, `bench-${i}`);
          r.first.push(m.first);
          r.exit.push(m.exit);
          process.stderr.write(`  ${mode.name} ${i + 1}/${RUNS}: first output ${m.first.toFixed(0)} ms\n`);
        }
        results.set(mode.name, r);
      } finally {
        await c.cleanup();
      }
    }
    const runc = results.get('runc') as { first: number[]; exit: number[] };
    process.stdout.write(`ctr-start: ${RUNS} runs each of \`ctr run --rm ${BUSYBOX_IMAGE} echo first\`\n`);
    for (const [name, r] of results) {
      const ratio = name === 'runc' ? '' : `  ratio to runc at p50: ${(pct(r.first, 50) / pct(runc.first, 50)).toFixed(1)}x`;
      process.stdout.write(`  ${name.padEnd(20)} first output p50 ${pct(r.first, 50).toFixed(0)} ms  p90 ${pct(r.first, 90).toFixed(0)} ms;` +
        `  exit p50 ${pct(r.exit, 50).toFixed(0)} ms${ratio}\n`);
    }
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}

await main();
