/**
 * bench/sandbox-start: how long a sandbox VM takes to become ready and to run a process, measured side by
 * side with runc on the same rootfs in the same run. Prints p50/p90 and the ratios; asserts nothing.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ensureGuestImage } from '../src/guest/index.js';
import { createLogger, nullSink } from '../src/log.js';
import { resolvePaths } from '../src/paths.js';
import { SandboxRuntime, type Sandbox } from '../src/sandbox/index.js';
import { busyboxRootfs } from '../test/e2e/helpers.js';

const run = promisify(execFile);
const RUNS = Number(process.env['BENCH_RUNS'] ?? 5);
const EXECS = 10;

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
};
const ms = (n: number): string => `${n.toFixed(0)} ms`;
async function timed(f: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await f();
  return performance.now() - t;
}

async function execTrue(sb: Sandbox): Promise<void> {
  const p = await sb.exec({ args: ['true'], env: ['PATH=/bin'], cwd: '/', terminal: false, stdin: false }, { onStdout: () => undefined, onStderr: () => undefined });
  await p.exited;
}

async function runcBundle(base: string, rootfs: string, args: string[]): Promise<string> {
  const bundle = join(base, `bundle-${args[0]}`);
  await mkdir(bundle);
  await run('runc', ['spec', '--bundle', bundle]);
  const spec = JSON.parse(await (await import('node:fs/promises')).readFile(join(bundle, 'config.json'), 'utf8')) as {
    process: { terminal: boolean; args: string[] }; root: { path: string; readonly: boolean };
  };
  spec.process.terminal = false;
  spec.process.args = args;
  spec.root = { path: rootfs, readonly: true };
  await writeFile(join(bundle, 'config.json'), JSON.stringify(spec));
  return bundle;
}

function runcRun(root: string, bundle: string, id: string, detach: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn('runc', ['--root', root, 'run', ...(detach ? ['-d'] : []), '--bundle', bundle, id], { stdio: 'ignore' });
    c.on('error', reject);
    c.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`runc run exited ${code}`))));
  });
}

async function main(): Promise<void> {
  const base = await mkdtemp(join(tmpdir(), 'sandpod-bench-'));
  try {
    const rootfs = await busyboxRootfs(join(base, 'rootfs'));
    const paths = resolvePaths({ stateRoot: join(base, 'state'), runRoot: join(base, 'run') });
    const runtime = new SandboxRuntime({ paths, log: createLogger('bench', nullSink), guestImage: () => ensureGuestImage(paths) });
    const verdict = await runtime.accelerator();
    process.stderr.write(`accelerator: ${verdict.accel} (${verdict.reason})\n`);

    const ready: number[] = [];
    const agentReady: number[] = [];
    const vmExec: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      let sb: Sandbox | undefined;
      ready.push(await timed(async () => { sb = await runtime.create({ rootfs, cpus: 1, memoryMiB: 256 }); }));
      const s = sb as unknown as Sandbox;
      agentReady.push(s.info().bootToReadyMs ?? NaN);
      for (let j = 0; j < EXECS; j++) vmExec.push(await timed(() => execTrue(s)));
      await s.destroy();
      process.stderr.write(`  sandbox run ${i + 1}/${RUNS}: ready in ${ms(ready[i] as number)}\n`);
    }

    // Fast start: the first clone makes the template (not counted), the rest restore it.
    await (await runtime.create({ rootfs, cpus: 1, memoryMiB: 256, fromTemplate: true })).destroy();
    const fromTemplate: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      let sb: Sandbox | undefined;
      fromTemplate.push(await timed(async () => { sb = await runtime.create({ rootfs, cpus: 1, memoryMiB: 256, fromTemplate: true }); }));
      await (sb as unknown as Sandbox).destroy();
    }
    await runtime.templates.clear();

    const runcRoot = join(base, 'runc-root');
    const once = await runcBundle(base, rootfs, ['true']);
    const sleeper = await runcBundle(base, rootfs, ['sleep', '1000']);
    const runcStart: number[] = [];
    const runcExec: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      runcStart.push(await timed(() => runcRun(runcRoot, once, `bench-once-${i}`, false)));
      const id = `bench-sleep-${i}`;
      await runcRun(runcRoot, sleeper, id, true);
      for (let j = 0; j < EXECS; j++) runcExec.push(await timed(() => run('runc', ['--root', runcRoot, 'exec', id, 'true'])));
      await run('runc', ['--root', runcRoot, 'kill', id, 'KILL']).catch(() => undefined);
      await run('runc', ['--root', runcRoot, 'delete', '--force', id]).catch(() => undefined);
    }

    const rows: [string, number[], number[]][] = [
      ['cold start to ready (sandbox: VM boot + agent + rootfs; runc: run `true` to exit)', ready, runcStart],
      ['start from a template to ready (restore + agent + rootfs)', fromTemplate, runcStart],
      ['exec round trip of `true`', vmExec, runcExec],
    ];
    process.stdout.write(`sandbox-start: ${RUNS} runs, accelerator ${verdict.accel}\n`);
    process.stdout.write(`  guest agent ready after VM launch: p50 ${ms(pct(agentReady, 50))}, p90 ${ms(pct(agentReady, 90))}\n`);
    for (const [name, vm, rc] of rows) {
      process.stdout.write(`  ${name}\n`);
      process.stdout.write(`    sandbox p50 ${ms(pct(vm, 50))}  p90 ${ms(pct(vm, 90))}\n`);
      process.stdout.write(`    runc    p50 ${ms(pct(rc, 50))}  p90 ${ms(pct(rc, 90))}\n`);
      process.stdout.write(`    ratio sandbox/runc at p50: ${(pct(vm, 50) / pct(rc, 50)).toFixed(1)}x\n`);
    }
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}

await main();
