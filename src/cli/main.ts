/**
 * The `sandpod` command. This file only dispatches: each command lives in src/cli/commands/.
 */
import { describeError } from '../errors.js';
import { UsageError } from './options.js';

type Command = (argv: string[]) => Promise<number>;

const commands: Record<string, () => Promise<Command>> = {
  sandbox: async () => (await import('./commands/sandbox.js')).sandbox,
  doctor: async () => (await import('./commands/doctor.js')).doctor,
  image: async () => (await import('./commands/image.js')).image,
  up: async () => (await import('./commands/up.js')).default,
  down: async () => (await import('./commands/down.js')).default,
  status: async () => (await import('./commands/status.js')).default,
  create: async () => (await import('./commands/create.js')).default,
  'get-credentials': async () => (await import('./commands/get-credentials.js')).default,
  list: async () => (await import('./commands/list.js')).default,
  show: async () => (await import('./commands/show.js')).default,
  start: async () => (await import('./commands/lifecycle.js')).start,
  stop: async () => (await import('./commands/lifecycle.js')).stop,
  delete: async () => (await import('./commands/lifecycle.js')).remove,
  nodepool: async () => (await import('./commands/nodepool.js')).default,
  node: async () => (await import('./commands/node.js')).node,
  manifests: async () => (await import('./commands/manifests.js')).default,
};

export function usage(): string {
  return [
    'usage: sandpod <command> [options]',
    '',
    'commands:',
    ...Object.keys(commands).sort().map((c) => `  ${c}`),
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name === undefined ? 2 : 0;
  }
  const load = commands[name];
  if (!load) {
    process.stderr.write(`sandpod: unknown command "${name}"\n${usage()}\n`);
    return 2;
  }
  return (await load())(rest);
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`sandpod: ${describeError(err)}\n`);
    process.exitCode = 1;
  },
);
