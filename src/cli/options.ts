/**
 * Option parsing shared by the commands: node:util parseArgs in strict mode (unknown flags are errors),
 * the global root/accelerator flags, and the usage error type the dispatcher turns into exit code 2.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { createLogger, fileSink, type Logger } from '../log.js';
import { resolvePaths, type SandpodPaths } from '../paths.js';
import type { AcceleratorChoice } from '../vmm/index.js';

export class UsageError extends Error {}

export type Subcommand = (argv: string[]) => Promise<number>;

/**
 * `sandpod <command> <subcommand> …`: runs the subcommand named first; usage on `--help` (exit 0) or nothing
 * (exit 2); an unknown name is a usage error that lists the usage.
 */
export async function runSubcommand(command: string, usage: string, subcommands: Record<string, Subcommand>, argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h') { process.stdout.write(`${usage}\n`); return sub ? 0 : 2; }
  const run = subcommands[sub];
  if (!run) throw new UsageError(`sandpod ${command}: unknown subcommand "${sub}"\n${usage}`);
  return run(rest);
}

export const globalOptions = {
  'state-dir': { type: 'string' },
  'cache-dir': { type: 'string' },
  'run-dir': { type: 'string' },
  accel: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

export function parse<O extends NonNullable<ParseArgsConfig['options']>>(command: string, argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options: { ...globalOptions, ...options }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(`sandpod ${command}: ${(err as Error).message}. See 'sandpod ${command} --help'`);
  }
}

export interface GlobalValues { 'state-dir'?: string; 'cache-dir'?: string; 'run-dir'?: string; accel?: string }

export function pathsFrom(v: GlobalValues): SandpodPaths {
  return resolvePaths({
    ...(v['state-dir'] ? { stateRoot: v['state-dir'] } : {}),
    ...(v['cache-dir'] ? { cacheRoot: v['cache-dir'] } : {}),
    ...(v['run-dir'] ? { runRoot: v['run-dir'] } : {}),
  });
}

export function accelFrom(v: GlobalValues, command: string): AcceleratorChoice {
  const a = v.accel ?? process.env['SANDPOD_ACCEL'] ?? 'auto';
  if (a !== 'auto' && a !== 'kvm' && a !== 'tcg') throw new UsageError(`sandpod ${command}: --accel must be auto, kvm or tcg, not "${a}"`);
  return a;
}

/** The CLI's structured log: SANDPOD_LOG_FILE if set, else nothing (people read the CLI's own messages). */
export function cliLogger(component: string, file?: string): Logger {
  return file ? createLogger(component, fileSink(file)) : createLogger(component);
}

export function many(v: string | boolean | (string | boolean)[] | undefined): string[] {
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === 'string');
}
