/**
 * End-to-end test helpers: temporary Sandpod roots, a busybox rootfs, running the real CLI, and a leak
 * check that every test file ends with. The guest image cache is shared (it is a cache, keyed by content).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, readdir, rm, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ensureGuestImage } from '../../src/guest/index.js';
import { busyboxRootfs } from '../../src/images/index.js';
import { createLogger, nullSink } from '../../src/log.js';
import { resolvePaths } from '../../src/paths.js';
import { SandboxRuntime } from '../../src/sandbox/index.js';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const sandpodBin = join(repoRoot, 'sandpod');

export interface TestRoots { base: string; state: string; run: string; env: NodeJS.ProcessEnv }

export async function testRoots(name: string): Promise<TestRoots> {
  const base = await mkdtemp(join(tmpdir(), `sandpod-e2e-${name}-`));
  const state = join(base, 'state');
  const run = join(base, 'run');
  await mkdir(state);
  await mkdir(run);
  return { base, state, run, env: { ...process.env, SANDPOD_STATE_DIR: state, SANDPOD_RUN_DIR: run } };
}

export { busyboxRootfs } from '../../src/images/index.js';

/**
 * The environment for a containerd whose shims are this checkout's (bin/ first on PATH), with Sandpod's
 * state and run roots under `base`; the guest image those shims boot is built (or found in the cache) first.
 */
export async function shimEnvironment(base: string): Promise<NodeJS.ProcessEnv> {
  const [run, state] = [join(base, 'run'), join(base, 'state')];
  await ensureGuestImage(resolvePaths({ runRoot: run, stateRoot: state }));
  return { ...process.env, PATH: `${join(repoRoot, 'bin')}:${process.env['PATH'] ?? ''}`, SANDPOD_RUN_DIR: run, SANDPOD_STATE_DIR: state };
}

export interface CliResult { code: number | null; stdout: string; stderr: string }

/**
 * The built CLI, as ./sandpod runs it once installed and built. Tests call it directly rather than through the
 * wrapper, which would rebuild dist/ under the running suite whenever a source is newer than the last build.
 */
export const sandpodCommand = [process.execPath, '--enable-source-maps', join(repoRoot, 'dist', 'src', 'cli', 'main.js')] as const;

export function sandpod(args: string[], env: NodeJS.ProcessEnv, input?: string, timeoutMs = 120_000): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(sandpodCommand[0], [...sandpodCommand.slice(1), ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`sandpod ${args.join(' ')} timed out\n${stderr}`)); }, timeoutMs);
    child.on('close', (code) => { clearTimeout(timer); resolvePromise({ code, stdout, stderr }); });
    child.stdin.end(input ?? '');
  });
}

/** Pids of processes whose NUL-separated command line (and, if asked, environment) satisfies `match`. */
export async function processesWhere(match: (cmdline: string, environ: () => Promise<string>) => boolean | Promise<boolean>): Promise<number[]> {
  const pids: number[] = [];
  for (const p of await readdir('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    const cmd = await readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '');
    if (cmd && (await match(cmd, () => readFile(`/proc/${p}/environ`, 'utf8').catch(() => '')))) pids.push(Number(p));
  }
  return pids;
}

/** QEMU processes whose command line names this test's run root. */
export const qemuProcessesUnder = (runRoot: string): Promise<number[]> =>
  processesWhere((cmd) => cmd.startsWith('qemu-system') && cmd.includes(runRoot));

/** Sandbox monitor processes started with this test's state root. */
export const monitorsUnder = (stateRoot: string): Promise<number[]> =>
  processesWhere(async (cmd, environ) => cmd.includes('sandbox\0monitor') && (await environ()).includes(`SANDPOD_STATE_DIR=${stateRoot}\0`));

/** Everything a test file's sandboxes could leave behind: QEMU and monitor processes, run and state entries. */
export async function leftovers(roots: TestRoots): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await qemuProcessesUnder(roots.run)) found.push(`qemu pid ${pid}`);
  for (const pid of await monitorsUnder(roots.state)) found.push(`sandbox monitor pid ${pid}`);
  for (const d of [join(roots.run, 'sandboxes'), join(roots.state, 'sandboxes')]) {
    for (const e of await readdir(d).catch(() => [])) found.push(join(d, e));
  }
  return found;
}

export async function removeRoots(roots: TestRoots): Promise<void> {
  for (const pid of [...(await monitorsUnder(roots.state)), ...(await qemuProcessesUnder(roots.run))]) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
  await rm(roots.base, { recursive: true, force: true });
}

export interface SandboxTestContext { roots: TestRoots; rootfs: string; runtime: SandboxRuntime }

/**
 * The usual frame of a sandbox test file: temporary roots and a busybox rootfs before the tests, a runtime on
 * those roots, and after them a check that nothing was left behind (then the roots are removed).
 */
export function sandboxTestContext(name: string, beforeCheck?: (ctx: SandboxTestContext) => Promise<void>): SandboxTestContext {
  const ctx = {} as SandboxTestContext;
  before(async () => {
    ctx.roots = await testRoots(name);
    ctx.rootfs = await busyboxRootfs(join(ctx.roots.base, 'rootfs'));
    // Templates of their own (not a suite-wide SANDPOD_TEMPLATE_DIR): these tests watch templates being made.
    const paths = resolvePaths({ stateRoot: ctx.roots.state, runRoot: ctx.roots.run, templatesRoot: join(ctx.roots.run, 'templates') });
    ctx.runtime = new SandboxRuntime({ paths, log: createLogger('test', nullSink), guestImage: () => ensureGuestImage(paths) });
  });
  after(async () => {
    await beforeCheck?.(ctx);
    const left = await leftovers(ctx.roots);
    await removeRoots(ctx.roots);
    assert.deepEqual(left, [], 'sandboxes left something behind');
  });
  return ctx;
}

/** The inode of a process's network namespace. */
export async function netnsInode(pid: number): Promise<number> {
  return (await stat(`/proc/${pid}/ns/net`)).ino;
}

/**
 * Where the network namespaces with these inodes are mounted (`ip netns` names under /run/netns, or a node's
 * containerd state directory), from the mount table: a pod's namespace exists as long as one of these does.
 */
export async function netnsNames(inodes: ReadonlySet<number>): Promise<string[]> {
  const out: string[] = [];
  for (const line of (await readFile('/proc/self/mountinfo', 'utf8')).split('\n')) {
    const [fields = '', tail = ''] = line.split(' - ');
    const [, , , root = '', mountPoint = ''] = fields.split(' ');
    const inode = /^net:\[(\d+)\]$/.exec(root)?.[1];
    if (tail.startsWith('nsfs ') && inode && inodes.has(Number(inode))) out.push(mountPoint);
  }
  return out;
}

/** The processes of a container, found by its id in their cgroup path (runc pods under containerd). */
export async function containerProcesses(containerId: string): Promise<number[]> {
  const pids: number[] = [];
  for (const p of await readdir('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    if ((await readFile(`/proc/${p}/cgroup`, 'utf8').catch(() => '')).includes(containerId)) pids.push(Number(p));
  }
  return pids;
}

