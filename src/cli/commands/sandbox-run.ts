/**
 * `sandpod sandbox run`: boot a sandbox for one command, stream its output, exit with its code, tear down.
 */
import { vmSize } from '../../sandbox/index.js';
import { accelFrom, cliLogger, many, parse, pathsFrom, UsageError } from '../options.js';
import { cliRuntime } from '../runtime.js';
import { runAttached, type Starter } from '../stdio.js';

export const processOptions = {
  env: { type: 'string', short: 'e', multiple: true },
  workdir: { type: 'string', short: 'w' },
  tty: { type: 'boolean', short: 't' },
  interactive: { type: 'boolean', short: 'i' },
} as const;

export const sizeOptions = {
  cpus: { type: 'string' },
  memory: { type: 'string' },
  rootfs: { type: 'string' },
  hostname: { type: 'string' },
  'boot-timeout': { type: 'string' },
  template: { type: 'boolean' },
} as const;

export const runUsage = `usage: sandpod sandbox run [--cpus N] [--memory Q] [--env K=V]… [--workdir DIR] [-t] [-i]
                           [--hostname H] [--accel auto|kvm|tcg] [--boot-timeout S] [--template]
                           --rootfs DIR -- CMD [ARG…]

Boots a VM with its own kernel, runs CMD with DIR as its root filesystem, streams its output and exits
with its exit code. --cpus takes a CPU limit (rounded up to whole vCPUs), --memory a quantity such as 256Mi
(default 512Mi). stdin is forwarded when it is not a terminal, or with -i; -t gives the process a terminal.
--template starts the VM by restoring a saved template of the same size (made on first use) instead of
booting it: about a second instead of several under TCG.`;

export const DEFAULT_ENV = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'];

export function processEnv(values: { env?: string[] | undefined; tty?: boolean | undefined }, command: string): string[] {
  const env = [...DEFAULT_ENV, ...(values.tty ? [`TERM=${process.env['TERM'] ?? 'xterm'}`] : [])];
  for (const kv of values.env ?? []) {
    if (!/^[^=]+=/.test(kv)) throw new UsageError(`sandpod ${command}: --env takes KEY=VALUE, not "${kv}"`);
    const key = kv.slice(0, kv.indexOf('=') + 1);
    const i = env.findIndex((e) => e.startsWith(key));
    if (i >= 0) env.splice(i, 1);
    env.push(kv);
  }
  return env;
}

export function bootTimeout(v: string | undefined, command: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`sandpod ${command}: --boot-timeout takes seconds, not "${v}"`);
  return n;
}

export interface ProcessValues { env?: string[]; workdir?: string | undefined; tty?: boolean | undefined; interactive?: boolean | undefined }

/**
 * Runs `args` attached to this terminal with the process options of run/exec. stdin is forwarded when it is
 * not a terminal (a pipe or a file), or with -i or -t, as `docker run -i` would.
 */
export function runWithOptions(start: Starter, args: string[], values: ProcessValues, command: string): Promise<number> {
  return runAttached(start, {
    args, env: processEnv({ env: values.env, tty: values.tty }, command),
    cwd: values.workdir ?? '/', terminal: values.tty ?? false, stdin: false,
  }, { forwardStdin: Boolean(values.interactive || values.tty || !process.stdin.isTTY) });
}

export async function sandboxRun(argv: string[]): Promise<number> {
  const { values, positionals } = parse('sandbox run', argv, { ...processOptions, ...sizeOptions });
  if (values.help) { process.stdout.write(runUsage + '\n'); return 0; }
  if (!values.rootfs) throw new UsageError('sandpod sandbox run: --rootfs DIR is required');
  if (positionals.length === 0) throw new UsageError('sandpod sandbox run: give the command to run after --');
  const size = vmSize(values.cpus, values.memory, 'sandbox');
  const runtime = cliRuntime(pathsFrom(values), accelFrom(values, 'sandbox run'), cliLogger('cli'));
  // A signal while the VM boots stops the boot and cleans up instead of leaving QEMU behind.
  const booting = new AbortController();
  const interrupt = (): void => booting.abort();
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const s of signals) process.on(s, interrupt);
  const sandbox = await runtime.create({
    rootfs: values.rootfs, ...size,
    ...(values.hostname ? { hostname: values.hostname } : {}),
    bootTimeoutS: bootTimeout(values['boot-timeout'], 'sandbox run'),
    fromTemplate: values.template ?? false,
  }, booting.signal).finally(() => { for (const s of signals) process.off(s, interrupt); });
  try {
    return await runWithOptions((spec, io) => sandbox.exec(spec, io), positionals, { ...values, env: many(values.env) }, 'sandbox run');
  } finally {
    await sandbox.destroy();
  }
}
