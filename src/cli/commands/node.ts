/**
 * `sandpod node install|uninstall`: Sandpod's VM runtime onto a Kubernetes node's containerd (src/install).
 * This file parses options and wires the install to the guest image builder and the accelerator probe.
 */
import { z } from 'zod';
import {
  checkoutPayload, DEFAULT_HANDLER, DEFAULT_PREFIX, DEFAULT_CONTAINERD_CONFIG, installNode, payloadFrom, uninstallNode, type PayloadSource,
} from '../../install/index.js';
import { AGENT_PORT_NAME, INIT_MARKER } from '../../protocol/index.js';
import { chooseAccelerator, createVmm } from '../../vmm/index.js';
import { cliLogger, parse, pathsFrom, runSubcommand, UsageError } from '../options.js';
import { progressPrinter } from '../progress.js';

export const nodeUsage = `usage: sandpod node <install|uninstall> [options]
  install [--containerd-config PATH] [--handler NAME] [--prefix DIR] [--dry-run] [--no-restart]
          [--accel auto|kvm|tcg] [--node PATH] [--containerd-binary PATH] [--from PAYLOAD_DIR]
        put the shim, its Node.js wrapper and the guest image in <prefix>/<version> (default ${DEFAULT_PREFIX}),
        add the runtime handler (default ${DEFAULT_HANDLER}) to containerd's CRI configuration (default
        ${DEFAULT_CONTAINERD_CONFIG}) through a drop-in it imports, and restart containerd when that changed
        (systemd; otherwise, and with --no-restart, print what to run). --accel kvm refuses a node without
        usable KVM; auto (default) falls back to TCG emulation with a warning
  uninstall [--prefix DIR] [--no-restart]
        take out exactly what install added; backups stay in <prefix>/backups`;

const installOptions = z.object({
  'containerd-config': z.string().min(1).default(DEFAULT_CONTAINERD_CONFIG),
  handler: z.string().default(DEFAULT_HANDLER),
  prefix: z.string().min(1).default(DEFAULT_PREFIX),
  'dry-run': z.boolean().default(false),
  'no-restart': z.boolean().default(false),
  accel: z.enum(['auto', 'kvm', 'tcg']).default('auto'),
  node: z.string().min(1).optional(),
  'containerd-binary': z.string().min(1).default('containerd'),
  from: z.string().min(1).optional(),
}).passthrough();

function options<T extends z.ZodTypeAny>(schema: T, values: unknown, command: string): z.infer<T> {
  const parsed = schema.safeParse(values);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UsageError(`sandpod ${command}: --${issue?.path.join('.')}: ${issue?.message}. See 'sandpod node --help'`);
  }
  return parsed.data;
}

async function install(argv: string[]): Promise<number> {
  const { values, positionals } = parse('node install', argv, {
    'containerd-config': { type: 'string' }, handler: { type: 'string' }, prefix: { type: 'string' }, 'dry-run': { type: 'boolean' },
    'no-restart': { type: 'boolean' }, node: { type: 'string' }, 'containerd-binary': { type: 'string' }, from: { type: 'string' },
  });
  if (values.help) { process.stdout.write(`${nodeUsage}\n`); return 0; }
  if (positionals.length > 0) throw new UsageError(`sandpod node install: unexpected argument "${positionals[0]}"`);
  const o = options(installOptions, values, 'node install');
  const paths = pathsFrom(values);
  const log = cliLogger('node-install');
  const payload = async (): Promise<PayloadSource> => (o.from ? payloadFrom(o.from) : checkoutPayload(paths, progressPrinter()));
  const vmm = createVmm('qemu', log);
  await installNode({
    containerdConfig: o['containerd-config'], handler: o.handler, prefix: o.prefix, dryRun: o['dry-run'], restart: !o['no-restart'],
    accel: o.accel, containerdBinary: o['containerd-binary'], ...(o.node ? { node: o.node } : {}),
  }, {
    payload,
    accelerator: async (guest, cacheFile) => chooseAccelerator({
      choice: o.accel === 'tcg' ? 'tcg' : 'auto', vmm, log, cacheFile,
      guest: { kernel: guest.vmlinux, kernelRelease: guest.kernelRelease, initrd: guest.initramfs, disks: [{ id: 'guestrt', path: guest.runtimeImage, readOnly: true }], agentPortName: AGENT_PORT_NAME, marker: INIT_MARKER },
    }),
    say: (line) => process.stdout.write(`${line}\n`),
  });
  return 0;
}

async function uninstall(argv: string[]): Promise<number> {
  const { values, positionals } = parse('node uninstall', argv, { prefix: { type: 'string' }, 'no-restart': { type: 'boolean' } });
  if (values.help) { process.stdout.write(`${nodeUsage}\n`); return 0; }
  if (positionals.length > 0) throw new UsageError(`sandpod node uninstall: unexpected argument "${positionals[0]}"`);
  await uninstallNode({ prefix: values.prefix ?? DEFAULT_PREFIX, restart: !values['no-restart'] }, (line) => process.stdout.write(`${line}\n`));
  return 0;
}

export const node = (argv: string[]): Promise<number> => runSubcommand('node', nodeUsage, { install, uninstall }, argv);
