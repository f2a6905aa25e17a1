/**
 * Kernel modules the guest loads on demand: networking (dummy, veth, bridge, tun, tunnels, traffic control,
 * the netfilter and nf_tables family) and overlayfs, with every module they depend on. They live on the
 * read-only runtime image, so a module costs guest memory only once loaded. When the kernel wants one
 * (request_module: `ip link add … type dummy`, a netfilter expression, `mount -t overlay`), it runs the program
 * in /proc/sys/kernel/modprobe with a module name or an alias; the guest's helper (scripts.ts) looks both up
 * in two tables written here, at image build time, from the modules' own `.modinfo`:
 *
 * - `aliases`: `<ERE> <module>` per line, the module's alias globs as anchored regular expressions;
 * - `load-order`: `<module> <first> … <module>` per line, what to insmod in order (dependencies first; a
 *   soft dependency, which may fail to load, is marked with a leading `?`).
 */
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { invalid } from '../../errors.js';
import { runTool } from '../../run-tool.js';

/**
 * What the guest may load on demand, as paths below the release's `kernel/` without `.ko`: a trailing `/`
 * takes a whole directory. Their dependencies come along.
 */
export const ON_DEMAND_MODULES: readonly string[] = [
  'net/netfilter/', 'net/ipv4/netfilter/', 'net/ipv6/netfilter/', 'net/bridge/', 'net/sched/', 'net/8021q/',
  'net/ipv4/', 'net/ipv6/',
  'drivers/net/dummy', 'drivers/net/veth', 'drivers/net/tun', 'drivers/net/tap', 'drivers/net/macvlan', 'drivers/net/macvtap',
  'drivers/net/ipvlan/', 'drivers/net/vxlan/', 'drivers/net/geneve', 'drivers/net/ifb', 'drivers/net/vrf', 'drivers/net/wireguard/',
  'drivers/net/bonding/', 'drivers/net/team/', 'drivers/net/nlmon',
  'fs/overlayfs/',
];

/** Bump when the tables' format or how they are derived changes: it is part of the runtime image's cache key. */
export const MODULE_TABLES_VERSION = 1;

export interface ModuleInfo {
  /** As the kernel names it (`-` spelled `_`), which is also its file name in the runtime image. */
  name: string;
  file: string;
  depends: string[];
  aliases: string[];
  /** Soft dependencies (`softdep=pre: a b post: c`), as written: module names or aliases. */
  softPre: string[];
  softPost: string[];
}

export const moduleName = (s: string): string => s.replace(/-/g, '_');

/** The `key=value` strings of a kernel module's `.modinfo` section (an ELF64 little-endian relocatable). */
export function modinfoFields(elf: Buffer, object: string): [string, string][] {
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2 || elf[5] !== 1) throw invalid(object, 'not an ELF64 little-endian kernel module');
  const shoff = Number(elf.readBigUInt64LE(0x28));
  const [shentsize, shnum, shstrndx] = [elf.readUInt16LE(0x3a), elf.readUInt16LE(0x3c), elf.readUInt16LE(0x3e)];
  const section = (i: number): { name: number; offset: number; size: number } => {
    const at = shoff + i * shentsize;
    return { name: elf.readUInt32LE(at), offset: Number(elf.readBigUInt64LE(at + 0x18)), size: Number(elf.readBigUInt64LE(at + 0x20)) };
  };
  const names = section(shstrndx);
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    const start = names.offset + s.name;
    if (elf.toString('latin1', start, elf.indexOf(0, start)) !== '.modinfo') continue;
    return elf.toString('utf8', s.offset, s.offset + s.size).split('\0').filter((f) => f.includes('='))
      .map((f) => [f.slice(0, f.indexOf('=')), f.slice(f.indexOf('=') + 1)]);
  }
  return [];
}

/** A module's facts from its `.modinfo` fields. */
export function moduleInfo(name: string, file: string, fields: [string, string][]): ModuleInfo {
  const values = (key: string): string[] => fields.filter(([k]) => k === key).map(([, v]) => v);
  const info: ModuleInfo = {
    name, file, aliases: values('alias').filter((a) => a !== '' && !/\s/.test(a)),
    depends: values('depends').flatMap((d) => d.split(',')).filter(Boolean).map(moduleName), softPre: [], softPost: [],
  };
  for (const soft of values('softdep')) {
    let into: string[] | undefined;
    for (const word of soft.split(/\s+/).filter(Boolean)) {
      if (word === 'pre:') into = info.softPre;
      else if (word === 'post:') into = info.softPost;
      else into?.push(word);
    }
  }
  return info;
}

/** An alias glob (`*`, `?`, `[…]`, `[!…]`) as an anchored POSIX extended regular expression. */
export function globToRegex(glob: string): string {
  let out = '^';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*') out += '.*';
    else if (c === '?') out += '.';
    else if (c === '[' && glob.indexOf(']', i + 2) > i) {
      const end = glob.indexOf(']', i + 2);
      const body = glob.slice(i + 1, end);
      out += `[${body.startsWith('!') ? `^${body.slice(1)}` : body}]`;
      i = end;
    } else out += /[.^$+(){}|\\[\]]/.test(c) ? `\\${c}` : c;
  }
  return `${out}$`;
}

const globMatches = (glob: string, s: string): boolean => new RegExp(globToRegex(glob)).test(s);

const softResolved = new WeakMap<Map<string, ModuleInfo>, Map<string, string[]>>();

/** Module names a soft dependency names: the module itself, else every module with a matching alias. */
function resolveSoft(ref: string, all: Map<string, ModuleInfo>): string[] {
  if (all.has(moduleName(ref))) return [moduleName(ref)];
  let cache = softResolved.get(all);
  if (!cache) softResolved.set(all, cache = new Map());
  let names = cache.get(ref);
  if (!names) cache.set(ref, names = [...all.values()].filter((m) => m.aliases.some((a) => globMatches(a, ref))).map((m) => m.name));
  return names;
}

/**
 * What to insmod, in order, to load `name`: hard dependencies before the modules needing them, soft `pre`
 * ones before and `post` ones after (marked `?`: they may fail, e.g. a CPU-specific implementation).
 */
export function loadOrder(name: string, all: Map<string, ModuleInfo>): string[] {
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (n: string, optional: boolean): void => {
    const m = all.get(n);
    if (!m || seen.has(n)) return;
    seen.add(n);
    for (const soft of m.softPre) for (const s of resolveSoft(soft, all)) visit(s, true);
    for (const dep of m.depends) visit(dep, optional);
    order.push(optional ? `?${n}` : n);
    for (const soft of m.softPost) for (const s of resolveSoft(soft, all)) visit(s, true);
  };
  visit(name, false);
  return order;
}

/** `selection` matches a module's path below `kernel/` (without `.ko`): exactly, or as a directory prefix. */
const selected = (path: string, selection: readonly string[]): boolean =>
  selection.some((s) => (s.endsWith('/') ? path.startsWith(s) : path === s));

/** The modules of `selection` and everything they depend on (hard and soft), by name. */
export function closure(all: Map<string, ModuleInfo>, kernelDir: string, selection: readonly string[]): Map<string, ModuleInfo> {
  const out = new Map<string, ModuleInfo>();
  for (const m of all.values()) {
    if (!selected(relative(kernelDir, m.file).replace(/\.ko(\.xz|\.zst)?$/, ''), selection)) continue;
    for (const n of loadOrder(m.name, all)) out.set(n.replace(/^\?/, ''), all.get(n.replace(/^\?/, '')) as ModuleInfo);
  }
  return out;
}

/** The two tables for a set of modules (see the module comment). */
export function moduleTables(modules: Map<string, ModuleInfo>): { aliases: string; loadOrder: string } {
  const sorted = [...modules.values()].sort((a, b) => a.name.localeCompare(b.name));
  return {
    aliases: sorted.flatMap((m) => m.aliases.map((a) => `${globToRegex(a)} ${m.name}\n`)).join(''),
    loadOrder: sorted.map((m) => `${[m.name, ...loadOrder(m.name, modules)].join(' ')}\n`).join(''),
  };
}

/** A module file's bytes, decompressed when the kernel package ships it compressed. */
export async function moduleBytes(file: string): Promise<Buffer> {
  if (file.endsWith('.xz')) return runTool('guest-image', 'xz', ['-dc', file]);
  if (file.endsWith('.zst')) return runTool('guest-image', 'zstd', ['-dc', file]);
  return readFile(file);
}

/** Reads every module of the release (`index`: name → file, from kernel.ts) for its dependencies and aliases. */
export async function readModules(index: Map<string, string>): Promise<Map<string, ModuleInfo>> {
  const all = new Map<string, ModuleInfo>();
  for (const [name, file] of index) all.set(name, moduleInfo(name, file, modinfoFields(await moduleBytes(file), `module ${file}`)));
  return all;
}

/** Writes the on-demand modules (as `<name>.ko`) and their tables into `dir` of the runtime image. */
export async function writeOnDemandModules(index: Map<string, string>, kernelDir: string, dir: string, selection = ON_DEMAND_MODULES): Promise<number> {
  const modules = closure(await readModules(index), kernelDir, selection);
  await mkdir(dir, { recursive: true });
  for (const m of modules.values()) {
    const out = join(dir, `${m.name}.ko`);
    if (m.file.endsWith('.ko')) await copyFile(m.file, out);
    else await writeFile(out, await moduleBytes(m.file));
  }
  const tables = moduleTables(modules);
  await writeFile(join(dir, 'aliases'), tables.aliases);
  await writeFile(join(dir, 'load-order'), tables.loadOrder);
  return modules.size;
}
