/** `sandpod sandbox <subcommand>`: run, create, exec, kill, ls, rm. */
import { UsageError } from '../options.js';

const subcommands: Record<string, () => Promise<(argv: string[]) => Promise<number>>> = {
  run: async () => (await import('./sandbox-run.js')).sandboxRun,
  create: async () => (await import('./sandbox-manage.js')).sandboxCreate,
  exec: async () => (await import('./sandbox-manage.js')).sandboxExec,
  kill: async () => (await import('./sandbox-manage.js')).sandboxKill,
  ls: async () => (await import('./sandbox-manage.js')).sandboxLs,
  rm: async () => (await import('./sandbox-manage.js')).sandboxRm,
  monitor: async () => (await import('./sandbox-manage.js')).sandboxMonitor,
};

export const sandboxUsage = `usage: sandpod sandbox <run|create|exec|kill|ls|rm> [options]
  run      boot a sandbox for one command and remove it afterwards
  create   start a long-lived sandbox and print its id
  exec     run another process in a sandbox
  kill     send a signal to a sandbox's main process
  ls       list sandboxes
  rm       stop and remove sandboxes`;

export async function sandbox(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h') { process.stdout.write(sandboxUsage + '\n'); return sub ? 0 : 2; }
  const load = subcommands[sub];
  if (!load) throw new UsageError(`sandpod sandbox: unknown subcommand "${sub}"\n${sandboxUsage}`);
  return (await load())(rest);
}
