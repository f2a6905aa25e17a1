/**
 * Entry point of containerd-shim-sandpod-v2 (runtime type io.containerd.sandpod.v2). Parses containerd's
 * flags and hands over to manager.ts. `start` must print only the address: nothing else goes to stdout.
 */
import { fileURLToPath } from 'node:url';
import { describeError } from '../errors.js';
import { createLogger } from '../log.js';
import { parseShimFlags } from './flags.js';

async function main(argv: string[]): Promise<number> {
  const flags = parseShimFlags(argv);
  const log = createLogger('shim').child({ task: flags.id, namespace: flags.namespace });
  switch (flags.action) {
    // Each command loads only its own modules: containerd runs `start` and `delete` twice per pod.
    case 'start':
      process.stdout.write(await (await import('./launch.js')).shimStart(flags, fileURLToPath(import.meta.url)));
      return 0;
    case 'delete':
      process.stdout.write(await (await import('./launch.js')).shimDelete(flags));
      return 0;
    case 'serve':
      if (!flags.socket) throw new Error('the shim daemon needs -socket; containerd runs it through "start"');
      await (await import('./manager.js')).shimServe({ ...flags, socket: flags.socket }, log);
      return 0;
  }
}

main(process.argv.slice(2)).then((code) => process.exit(code), (err: unknown) => {
  // The daemon's stderr goes nowhere (start detaches it): its log file is where a failure can be read.
  createLogger('shim').error('the shim failed', { argv: process.argv.slice(2), err: describeError(err) });
  process.stderr.write(`containerd-shim-sandpod-v2: ${describeError(err)}\n`);
  process.exit(1);
});
