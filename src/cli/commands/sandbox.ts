/** `sandpod sandbox <subcommand>`: run, create, exec, kill, ls, rm. */
import { runSubcommand, type Subcommand } from '../options.js';

// Loaded on use: `sandbox run` should not pay for the others' modules.
const subcommands: Record<string, Subcommand> = {
  run: async (argv) => (await import('./sandbox-run.js')).sandboxRun(argv),
  create: async (argv) => (await import('./sandbox-manage.js')).sandboxCreate(argv),
  exec: async (argv) => (await import('./sandbox-manage.js')).sandboxExec(argv),
  kill: async (argv) => (await import('./sandbox-manage.js')).sandboxKill(argv),
  ls: async (argv) => (await import('./sandbox-manage.js')).sandboxLs(argv),
  rm: async (argv) => (await import('./sandbox-manage.js')).sandboxRm(argv),
  monitor: async (argv) => (await import('./sandbox-manage.js')).sandboxMonitor(argv),
};

export const sandboxUsage = `usage: sandpod sandbox <run|create|exec|kill|ls|rm> [options]
  run      boot a sandbox for one command and remove it afterwards
  create   start a long-lived sandbox and print its id
  exec     run another process in a sandbox
  kill     send a signal to a sandbox's main process
  ls       list sandboxes
  rm       stop and remove sandboxes`;

export const sandbox = (argv: string[]): Promise<number> => runSubcommand('sandbox', sandboxUsage, subcommands, argv);
