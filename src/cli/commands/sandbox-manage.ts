/**
 * Long-lived sandboxes: `sandbox create|exec|kill|ls|rm`, and the hidden `sandbox monitor` that `create`
 * starts in the background to hold each sandbox's VM.
 */
import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { open, readFile, rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { describeError, failedPrecondition, SandpodError, unavailable } from '../../errors.js';
import { sandboxRunDir } from '../../paths.js';
import {
  AgentClient, controlSocketPath, SandboxMonitor, SandboxStore, vmSize, type SandboxRecord,
} from '../../sandbox/index.js';
import { accelFrom, cliLogger, many, parse, pathsFrom, UsageError, type GlobalValues } from '../options.js';
import { cliRuntime } from '../runtime.js';
import { bootTimeout, processEnv, processOptions, runWithOptions, sizeOptions } from './sandbox-run.js';

const createUsage = `usage: sandpod sandbox create [--name ID] [--cpus N] [--memory Q] [--env K=V]… [--workdir DIR]
                              [--hostname H] [--boot-timeout S] [--template] --rootfs DIR [-- CMD [ARG…]]
Starts a sandbox that outlives this command and prints its id. CMD, if given, is its main process (output in
the sandbox's main.log). Use 'sandbox exec' to run more processes, 'sandbox rm' to remove it.`;

const pidAlive = (pid: number): boolean => {
  try { process.kill(pid, 0); return true; } catch { return false; }
};

/** Whether `pid` is still the process we started for this sandbox (pids get reused). */
async function isOurs(pid: number, marker: string): Promise<boolean> {
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return cmdline.split('\0').includes(marker);
}

export async function sandboxCreate(argv: string[]): Promise<number> {
  const { values } = parse('sandbox create', argv, { ...processOptions, ...sizeOptions, name: { type: 'string' } });
  if (values.help) { process.stdout.write(createUsage + '\n'); return 0; }
  if (!values.rootfs) throw new UsageError('sandpod sandbox create: --rootfs DIR is required');
  vmSize(values.cpus, values.memory, 'sandbox');
  bootTimeout(values['boot-timeout'], 'sandbox create');
  processEnv({ env: many(values.env) }, 'sandbox create');
  accelFrom(values, 'sandbox create');
  const self = fileURLToPath(new URL('../main.js', import.meta.url));
  const child = spawn(process.execPath, ['--enable-source-maps', self, 'sandbox', 'monitor', ...argv], {
    detached: true, stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  const result = await new Promise<{ id?: string; error?: string }>((resolve) => {
    child.once('message', (m) => resolve(m as { id?: string; error?: string }));
    child.once('exit', (code) => resolve({ error: stderr.trim() || `the sandbox monitor exited with code ${code}` }));
  });
  child.stderr?.destroy();
  if (child.connected) child.disconnect();
  child.unref();
  if (result.error || !result.id) {
    process.stderr.write(`sandpod: ${result.error ?? 'the sandbox monitor did not start'}\n`);
    return 1;
  }
  process.stdout.write(`${result.id}\n`);
  return 0;
}

/** Hidden: runs in the background for one sandbox until it is removed or its VM dies. */
export async function sandboxMonitor(argv: string[]): Promise<number> {
  const { values, positionals } = parse('sandbox create', argv, { ...processOptions, ...sizeOptions, name: { type: 'string' } });
  const paths = pathsFrom(values);
  const store = new SandboxStore(paths);
  const report = (m: { id?: string; error?: string }): void => { if (process.send) process.send(m); if (process.connected) process.disconnect(); };
  let id = values.name;
  try {
    const size = vmSize(values.cpus, values.memory, 'sandbox');
    const runtime = cliRuntime(paths, accelFrom(values, 'sandbox create'), cliLogger('sandbox-monitor'));
    const sandbox = await runtime.create({
      rootfs: values.rootfs as string, ...size,
      ...(id ? { id } : {}), ...(values.hostname ? { hostname: values.hostname } : {}),
      bootTimeoutS: bootTimeout(values['boot-timeout'], 'sandbox create'),
      fromTemplate: values.template ?? false,
    });
    id = sandbox.id;
    const log = cliLogger('sandbox-monitor', store.monitorLog(id)).child({ sandbox: id });
    const record: SandboxRecord = {
      id, rootfs: values.rootfs as string, cpus: size.cpus, memoryMiB: size.memoryMiB, accel: sandbox.info().accel,
      createdAt: new Date().toISOString(), monitorPid: process.pid, vmPid: sandbox.vm.pid, command: positionals,
    };
    await store.write(record);
    let done!: () => void;
    const finished = new Promise<void>((resolve) => { done = resolve; });
    let removing = false;
    const monitor = new SandboxMonitor(sandbox, log, async () => {
      removing = true;
      await monitor.close();
      await sandbox.destroy();
      await rm(store.dir(sandbox.id), { recursive: true, force: true });
      done();
    });
    await monitor.listen();
    if (positionals.length > 0) {
      const out = await open(store.mainLog(id), 'a');
      const handle = await sandbox.agent.startProcess({
        args: positionals, env: processEnv({ env: many(values.env) }, 'sandbox create'), cwd: values.workdir ?? '/', terminal: false, stdin: false,
      }, { onStdout: (d) => void out.write(d), onStderr: (d) => void out.write(d) }, 'main');
      void handle.exited.then(async (e) => {
        await out.close();
        await store.write({ ...record, mainExit: e }).catch(() => undefined);
        log.info('main process exited', { ...e });
      });
    }
    void sandbox.vm.exited.then(async () => {
      if (removing) return;
      // The VM died under us: keep the record (ls shows the sandbox dead) until 'sandbox rm'.
      log.warn('sandbox VM exited; monitor stops', { error: sandbox.deathError()?.message });
      await monitor.close();
      await sandbox.destroy();
      done();
    });
    process.on('SIGTERM', () => { void monitor.close().then(() => sandbox.destroy()).then(done); });
    report({ id });
    await finished;
    return 0;
  } catch (err) {
    report({ error: describeError(err) });
    return 1;
  }
}

async function connectControl(paths: ReturnType<typeof pathsFrom>, id: string): Promise<AgentClient> {
  const record = await new SandboxStore(paths).read(id);
  if (!pidAlive(record.monitorPid)) throw failedPrecondition(`sandbox/${id}`, `the sandbox is not running (its monitor, pid ${record.monitorPid}, is gone); remove it with 'sandpod sandbox rm ${id}'`);
  const path = controlSocketPath(sandboxRunDir(paths, id));
  const socket = await new Promise<Socket>((resolve, reject) => {
    const s = connect(path);
    s.once('connect', () => resolve(s));
    s.once('error', (err) => reject(unavailable(`sandbox/${id}`, `cannot reach the sandbox monitor at ${path}: ${err.message}`)));
  });
  return new AgentClient(socket, `sandbox/${id}`);
}

export async function sandboxExec(argv: string[]): Promise<number> {
  const { values, positionals } = parse('sandbox exec', argv, processOptions);
  if (values.help) { process.stdout.write('usage: sandpod sandbox exec [-t] [-i] [--env K=V]… [--workdir DIR] ID -- CMD [ARG…]\n'); return 0; }
  const [id, ...cmd] = positionals;
  if (!id || cmd.length === 0) throw new UsageError('sandpod sandbox exec: give the sandbox id, then the command after --');
  const client = await connectControl(pathsFrom(values), id);
  try {
    return await runWithOptions((spec, io) => client.startProcess(spec, io), cmd, { ...values, env: many(values.env) }, 'sandbox exec');
  } finally {
    client.close();
  }
}

export async function sandboxKill(argv: string[]): Promise<number> {
  const { values, positionals } = parse('sandbox kill', argv, { signal: { type: 'string', short: 's' } });
  if (values.help || positionals.length !== 1) {
    process.stdout.write('usage: sandpod sandbox kill [-s SIGNAL] ID   (default SIGKILL; sent to the main process)\n');
    return values.help ? 0 : 2;
  }
  const raw = (values.signal ?? 'KILL').toUpperCase();
  const signal = raw.startsWith('SIG') ? raw : `SIG${raw}`;
  const client = await connectControl(pathsFrom(values), positionals[0] as string);
  try {
    await client.request({ type: 'signal', proc: 'main', signal });
  } finally {
    client.close();
  }
  return 0;
}

function state(r: SandboxRecord): string {
  if (!pidAlive(r.monitorPid)) return 'dead';
  if (r.mainExit) return `exited (${r.mainExit.code ?? r.mainExit.signal ?? 'lost'})`;
  return 'running';
}

export async function sandboxLs(argv: string[]): Promise<number> {
  const { values } = parse('sandbox ls', argv, { json: { type: 'boolean' } });
  const records = await new SandboxStore(pathsFrom(values)).list();
  if (values.json) {
    process.stdout.write(JSON.stringify(records.map((r) => ({ ...r, state: state(r) })), null, 2) + '\n');
    return 0;
  }
  const rows = [['ID', 'STATE', 'CPUS', 'MEMORY', 'ACCEL', 'CREATED', 'COMMAND'],
    ...records.map((r) => [r.id, state(r), String(r.cpus), `${r.memoryMiB}Mi`, r.accel, r.createdAt, r.command.join(' ')])];
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length))) ?? [];
  for (const row of rows) process.stdout.write(row.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd() + '\n');
  return 0;
}

async function removeOne(v: GlobalValues, id: string): Promise<void> {
  const paths = pathsFrom(v);
  const store = new SandboxStore(paths);
  const record = await store.read(id);
  if (pidAlive(record.monitorPid)) {
    // A monitor whose VM just died may already have closed its socket: then it is on its way out anyway.
    const client = await connectControl(paths, id).catch(() => undefined);
    await client?.request({ type: 'shutdown' }).catch(() => undefined);
    client?.close();
    for (let i = 0; i < 200 && pidAlive(record.monitorPid); i++) await sleep(50);
    if (pidAlive(record.monitorPid) && (await isOurs(record.monitorPid, 'monitor'))) process.kill(record.monitorPid, 'SIGKILL');
  }
  // Whatever a dead monitor left behind: its VM (if that pid is still ours) and its files.
  if (pidAlive(record.vmPid) && (await isOurs(record.vmPid, `sandpod-${id}`))) process.kill(record.vmPid, 'SIGKILL');
  await rm(sandboxRunDir(paths, id), { recursive: true, force: true });
  await rm(store.dir(id), { recursive: true, force: true });
}

export async function sandboxRm(argv: string[]): Promise<number> {
  const { values, positionals } = parse('sandbox rm', argv, {});
  if (values.help || positionals.length === 0) { process.stdout.write('usage: sandpod sandbox rm ID…\n'); return values.help ? 0 : 2; }
  let failed = 0;
  for (const id of positionals) {
    try {
      await removeOne(values, id);
      process.stdout.write(`${id}\n`);
    } catch (err) {
      failed++;
      process.stderr.write(`sandpod: ${err instanceof SandpodError ? describeError(err) : String(err)}\n`);
    }
  }
  return failed ? 1 : 0;
}
