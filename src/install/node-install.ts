/**
 * `sandpod node install` and `uninstall` on a Kubernetes node running containerd 1.6/1.7: the versioned
 * payload (payload.ts), a drop-in with the runtime handler (containerd-config.ts) imported from the node's
 * configuration, and a record of exactly what was added, so uninstall takes out that and nothing else.
 * Both are idempotent; every file they change is first copied under `<prefix>/backups/`; containerd is
 * restarted only when its configuration changed (restart.ts).
 */
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { failedPrecondition, invalid } from '../errors.js';
import { runTool } from '../run-tool.js';
import {
  absoluteImports, addImport, configVersion, CRI_PLUGIN, criSections, dropInText, handlerSections, removeImport, topLevelStrings,
  type ImportEdit,
} from './containerd-config.js';
import { installedPayload, payloadVersion, writePayload, type PayloadSource } from './payload.js';
import { probeNode, refusals, virtualizationSummary, type NodeFacts } from './probe.js';
import { restartContainerd } from './restart.js';

export const DEFAULT_PREFIX = '/opt/sandpod';
export const DEFAULT_HANDLER = 'sandpod-vm';

/** What the accelerator probe (src/vmm, wired by the CLI) says: KVM only if a probe guest boots under it. */
export interface AcceleratorAnswer { accel: 'kvm' | 'tcg'; reason: string }

export interface InstallOptions {
  containerdConfig: string;
  handler: string;
  prefix: string;
  dryRun: boolean;
  /** false with --no-restart: say how to restart instead. */
  restart: boolean;
  /** auto: KVM when a probe guest boots under it, else TCG (slow, with a warning); kvm: refuse without KVM; tcg: always TCG. */
  accel: 'auto' | 'kvm' | 'tcg';
  node?: string;
  containerdBinary: string;
}

export interface InstallDeps {
  payload: () => Promise<PayloadSource>;
  /** Runs the accelerator probe for `guest`, caching the verdict in `verdictFile` (which the shim reads). */
  accelerator: (guest: PayloadSource['guest'], verdictFile: string) => Promise<AcceleratorAnswer>;
  /** Progress and report lines. */
  say: (line: string) => void;
}

const recordSchema = z.object({
  handler: z.string(),
  containerdConfig: z.string(),
  dropIn: z.string(),
  version: z.string(),
  payloadDir: z.string(),
  /** The main config did not exist: install created it, uninstall removes it. */
  createdConfig: z.boolean(),
  importEdit: z.object({ kind: z.enum(['array', 'line']), inserted: z.string() }).optional(),
}).strict();
export type InstallRecord = z.infer<typeof recordSchema>;

export const recordFile = (prefix: string): string => join(prefix, 'install.json');
/** The drop-in's place: a directory of Sandpod's own beside the main file, which no operator glob imports by accident. */
export const dropInPath = (config: string, handler: string): string => join(dirname(config), 'sandpod', `${handler}.toml`);

async function readRecord(prefix: string): Promise<InstallRecord | undefined> {
  const text = await readFile(recordFile(prefix), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const parsed = recordSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw invalid(`install-record/${recordFile(prefix)}`, `the install record is not readable (${parsed.error.issues[0]?.message}); move it away and run the install again`);
  return parsed.data;
}

const readOptional = (path: string): Promise<string | undefined> => readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
  if (err.code === 'ENOENT') return undefined;
  throw err;
});

/** Copies `file` (if it exists) into this run's backup directory, keeping its path. */
async function backup(prefix: string, stamp: string, file: string, say: (l: string) => void): Promise<void> {
  const text = await readOptional(file);
  if (text === undefined) return;
  const to = join(prefix, 'backups', stamp, file);
  await mkdir(dirname(to), { recursive: true });
  await copyFile(file, to);
  say(`backed up ${file} to ${to}`);
}

/** `containerd config dump` of a config text, run from a temporary file (its relative imports made absolute). */
async function dumpConfig(containerd: string, text: string | undefined, configPath: string, without?: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sandpod-install-'));
  try {
    const file = join(dir, 'config.toml');
    await writeFile(file, text === undefined ? 'version = 2\n' : absoluteImports(text, dirname(configPath), without));
    return (await runTool('containerd', containerd, ['--config', file, 'config', 'dump'])).toString();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function refuse(object: string, reasons: string[]): never {
  throw failedPrecondition(object, `cannot install Sandpod's VM runtime here:\n${reasons.map((r) => `  - ${r}`).join('\n')}`);
}

/** The guest image as installed in a payload directory. */
const installedGuest = (dir: string, kernelRelease: string): PayloadSource['guest'] => ({
  kernelRelease, vmlinux: join(dir, 'cache', 'guest', 'vmlinux'), initramfs: join(dir, 'cache', 'guest', 'initramfs.cpio'), runtimeImage: join(dir, 'cache', 'guest', 'runtime.sqfs'),
});

/** Processes running from a directory (a payload still in use by pods' shims). */
async function processesUnder(dir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const p of await readdir('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    const cmd = await readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes(`${dir}/`)) pids.push(Number(p));
  }
  return pids;
}

export async function installNode(opts: InstallOptions, deps: InstallDeps): Promise<{ changed: boolean; facts: NodeFacts }> {
  const say = deps.say;
  const config = resolve(opts.containerdConfig);
  const prefix = resolve(opts.prefix);
  const object = `node-install/${config}`;
  if (!/^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$/.test(opts.handler)) throw invalid(object, `--handler "${opts.handler}" is not a valid RuntimeClass handler (a DNS label)`);

  const facts = await probeNode({ ...(opts.node ? { node: opts.node } : {}), containerd: opts.containerdBinary });
  const refused = refusals(facts, opts.containerdBinary);
  if (refused.length > 0) refuse(object, refused);
  say(`node: Node.js ${facts.node?.version} (${facts.node?.path}), containerd ${facts.containerd?.version}; ${virtualizationSummary(facts)}`);

  const record = await readRecord(prefix);
  if (record && (record.containerdConfig !== config || record.handler !== opts.handler)) {
    refuse(object, [`Sandpod is installed here for ${record.containerdConfig} with handler ${record.handler} (${recordFile(prefix)}); run sandpod node uninstall --prefix ${prefix} first`]);
  }
  const mainText = await readOptional(config);
  if (mainText !== undefined && configVersion(mainText) !== 2) {
    refuse(object, [`${config} is a version ${configVersion(mainText)} configuration; containerd 1.6/1.7 read imports and this handler from version 2 configurations only: convert it (version = 2, plugin "${CRI_PLUGIN}") first`]);
  }

  const src = await deps.payload();
  const version = await payloadVersion(src);
  const payloadDir = join(prefix, version);
  const payload = installedPayload(payloadDir);
  const dropIn = dropInPath(config, opts.handler);

  // The node's own CRI configuration, without Sandpod's drop-in.
  const before = await dumpConfig(opts.containerdBinary, mainText, config, record?.dropIn ?? dropIn);
  if (topLevelStrings(before, 'disabled_plugins').some((p) => p === CRI_PLUGIN || p === 'cri')) {
    refuse(object, [`${config} disables the CRI plugin (disabled_plugins); a Kubernetes node's containerd needs it: remove "cri" from disabled_plugins`]);
  }
  const wantDropIn = dropInText(before, { handler: opts.handler, shimPath: payload.shimPath }, `Sandpod's runtime handler ${opts.handler}, written by sandpod node install ${version}`);
  const haveDropIn = await readOptional(dropIn);
  const { text: wantMain, edit } = addImport(mainText ?? 'version = 2\n', dropIn);
  const mainChanges = mainText === undefined || wantMain !== mainText;
  const dropInChanges = haveDropIn !== wantDropIn;

  if (opts.dryRun) {
    say(`dry run: nothing is changed. The install would:`);
    say(`  - put the shim, its Node.js wrapper and the guest image (kernel ${src.guest.kernelRelease}) in ${payloadDir}${record?.version === version ? ' (there already)' : ''}`);
    say(`  - probe the accelerator (${opts.accel})`);
    say(dropInChanges ? `  - write ${dropIn}:\n${wantDropIn.replace(/^/gm, '      ')}` : `  - keep ${dropIn} (up to date)`);
    say(mainChanges ? `  - ${mainText === undefined ? 'create' : 'add to the imports of'} ${config}: ${edit?.inserted.trim() ?? ''}` : `  - keep ${config} (it imports the drop-in)`);
    say(mainChanges || dropInChanges ? '  - restart containerd (or say how)' : '  - leave containerd running: its configuration is unchanged');
    return { changed: false, facts };
  }

  // The payload first, then the probe against its guest image: the verdict file is the one the shim reads.
  const fresh = record?.version !== version;
  const { written } = await writePayload(src, payloadDir, version, facts.node!.path, opts.accel);
  say(written ? `put the shim, its wrapper for ${facts.node!.path} and the guest image (kernel ${src.guest.kernelRelease}) in ${payloadDir}` : `${payloadDir} is up to date`);
  const probed = await deps.accelerator(installedGuest(payloadDir, src.guest.kernelRelease), payload.verdictFile).catch((err: unknown) => err as Error);
  if (probed instanceof Error || (opts.accel === 'kvm' && probed.accel !== 'kvm')) {
    if (fresh) await rm(payloadDir, { recursive: true, force: true });
    refuse(object, [probed instanceof Error ? `no VM could be started here: ${probed.message}`
      : `KVM is required (--accel kvm) but unusable: ${probed.reason}; ${virtualizationSummary(facts)}. On a cloud VM choose a size with nested virtualization, or allow TCG emulation with --accel auto`]);
  }
  const accel = opts.accel === 'tcg' ? 'tcg' : probed.accel;
  say(accel === 'kvm' ? `accelerator: KVM (${probed.reason})`
    : `accelerator: TCG software emulation (${probed.reason}); VM pods work but start and run several times slower than under KVM. ${virtualizationSummary(facts)}`);

  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const next: InstallRecord = {
    handler: opts.handler, containerdConfig: config, dropIn, version, payloadDir,
    createdConfig: record?.createdConfig ?? mainText === undefined,
    ...(edit ?? record?.importEdit ? { importEdit: (edit ?? record?.importEdit) as ImportEdit } : {}),
  };
  if (dropInChanges || mainChanges) {
    await backup(prefix, stamp, dropIn, say);
    await backup(prefix, stamp, config, say);
    await mkdir(dirname(dropIn), { recursive: true });
    await writeFile(dropIn, wantDropIn);
    say(`wrote ${dropIn}`);
    if (mainChanges) {
      await mkdir(dirname(config), { recursive: true });
      await writeFile(config, wantMain);
      say(`${mainText === undefined ? 'created' : 'updated'} ${config}: ${edit?.inserted.trim()}`);
    }
    await mkdir(prefix, { recursive: true });
    await writeFile(recordFile(prefix), `${JSON.stringify(next, null, 2)}\n`);
    try {
      await verify(opts.containerdBinary, config, before, opts.handler, payload.shimPath);
    } catch (err) {
      await undoConfig(next, say, prefix, `${stamp}-rollback`);
      throw err;
    }
  } else {
    await writeFile(recordFile(prefix), `${JSON.stringify(next, null, 2)}\n`);
    say(`${config} and ${dropIn} are up to date`);
  }
  if (record && record.version !== version) await removePayload(record.payloadDir, say);
  const lines = dropInChanges || mainChanges ? await restartContainerd(config, opts.restart) : ['containerd keeps running: its configuration did not change'];
  for (const l of lines) say(l);
  say(`installed: RuntimeClass handler "${opts.handler}" runs VM pods (runtime_type ${payload.shimPath}); \`sandpod manifests\` prints the RuntimeClasses`);
  return { changed: dropInChanges || mainChanges, facts };
}

/** After writing: the merged configuration has the handler and every CRI setting the node had before. */
async function verify(containerd: string, config: string, before: string, handler: string, shimPath: string): Promise<void> {
  const after = await dumpConfig(containerd, await readFile(config, 'utf8'), config);
  const object = `node-install/${config}`;
  if (criSections(after, handler) !== criSections(before, handler)) {
    throw failedPrecondition(object, `containerd does not read ${config} with the drop-in the way it read it before (its CRI settings differ): another import may replace the CRI section after Sandpod's; the change was rolled back`);
  }
  const mine = handlerSections(after, handler);
  if (!mine.includes(`runtime_type = ${JSON.stringify(shimPath)}`)) {
    throw failedPrecondition(object, `containerd's merged configuration has no handler ${handler} with the shim: another import may replace the CRI section after Sandpod's; the change was rolled back`);
  }
}

/** Takes out of the main config what install put in, and the drop-in. Returns whether anything changed. */
async function undoConfig(rec: InstallRecord, say: (l: string) => void, prefix: string, stamp: string): Promise<boolean> {
  let changed = false;
  const text = await readOptional(rec.containerdConfig);
  if (text !== undefined && rec.importEdit) {
    const restored = removeImport(text, rec.importEdit);
    if (restored !== text) {
      await backup(prefix, stamp, rec.containerdConfig, say);
      if (rec.createdConfig && restored === 'version = 2\n') {
        await rm(rec.containerdConfig);
        say(`removed ${rec.containerdConfig} (install had created it)`);
      } else {
        await writeFile(rec.containerdConfig, restored);
        say(`took ${rec.importEdit.inserted.trim()} out of ${rec.containerdConfig}`);
      }
      changed = true;
    }
  }
  if ((await readOptional(rec.dropIn)) !== undefined) {
    await backup(prefix, stamp, rec.dropIn, say);
    await rm(rec.dropIn);
    await rmdir(dirname(rec.dropIn)).catch(() => undefined);
    say(`removed ${rec.dropIn}`);
    changed = true;
  }
  return changed;
}

async function removePayload(dir: string, say: (l: string) => void): Promise<void> {
  const users = await processesUnder(dir);
  if (users.length > 0) {
    say(`kept ${dir}: processes ${users.join(', ')} (VM pods' shims) still run from it; remove it once those pods are gone`);
    return;
  }
  await rm(dir, { recursive: true, force: true });
  say(`removed ${dir}`);
}

export interface UninstallOptions { prefix: string; restart: boolean }

export async function uninstallNode(opts: UninstallOptions, say: (l: string) => void): Promise<{ changed: boolean }> {
  const prefix = resolve(opts.prefix);
  const rec = await readRecord(prefix);
  if (!rec) {
    say(`nothing to uninstall: no install record in ${recordFile(prefix)}`);
    return { changed: false };
  }
  const stamp = `${new Date().toISOString().replace(/[:.]/g, '-')}-uninstall`;
  const changed = await undoConfig(rec, say, prefix, stamp);
  await removePayload(rec.payloadDir, say);
  await rm(recordFile(prefix));
  say(`removed ${recordFile(prefix)}; backups stay in ${join(prefix, 'backups')}`);
  const lines = changed ? await restartContainerd(rec.containerdConfig, opts.restart, 'drop the handler') : [];
  for (const l of lines) say(l);
  return { changed };
}

