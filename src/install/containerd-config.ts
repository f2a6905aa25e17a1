/**
 * containerd's configuration as `node install` edits it: the main file gains one entry in its top-level
 * `imports` (or the line holding it), and the runtime handler lives in a drop-in of Sandpod's own. Pure text
 * functions: the main file is never re-serialised, so removing exactly what was inserted gives the operator's
 * bytes back.
 *
 * containerd 1.6 and 1.7 merge an imported file by whole plugin sections, not by keys (containerd issue 5837;
 * checked on 1.6.20: a drop-in holding only `[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.x]`
 * resets `sandbox_image` and the CNI directories to their defaults). So the drop-in carries the node's whole
 * effective CRI section, as `containerd config dump` prints it, with the handler added.
 */
import { invalid } from '../errors.js';

export const CRI_PLUGIN = 'io.containerd.grpc.v1.cri';
const CRI_HEADER = `[plugins."${CRI_PLUGIN}"`;

/** The CRI options of Sandpod's runtime handler (docs/shim.md says why each is there). */
export interface HandlerOptions {
  handler: string;
  /** The shim wrapper containerd runs, an absolute path: the handler's `runtime_type`. */
  shimPath: string;
}


const tomlString = (s: string): string => JSON.stringify(s);

/** The `[…runtimes.<handler>]` table of the handler. */
export function handlerSection(o: HandlerOptions): string {
  return [
    `${runtimeHeader(o.handler)}]`,
    // An absolute runtime_type is the shim binary itself (containerd resolves the type to a path that way
    // first). containerd 1.6.20 reads runtime_path but does not use it (checked: the shim was looked up on
    // the PATH), and the PATH is not the install's to change.
    `  runtime_type = ${tomlString(o.shimPath)}`,
    // CRI leaves the host's devices out of a privileged container's spec: privileged means the VM's own.
    '  privileged_without_host_devices = true',
    // The node agent and the shim speak through sandpod.io/* annotations (memory volumes).
    '  pod_annotations = ["sandpod.io/*"]',
    '  container_annotations = ["sandpod.io/*"]',
    '',
  ].join('\n');
}

const runtimeHeader = (handler: string): string => `${CRI_HEADER}.containerd.runtimes.${/^[A-Za-z0-9_-]+$/.test(handler) ? handler : tomlString(handler)}`;

/** A dumped config split into its tables: the text before the first header, then one block per header. */
interface Table { header: string; text: string }

function tables(text: string): { top: string; tables: Table[] } {
  const lines = text.split('\n');
  const out: Table[] = [];
  const top: string[] = [];
  for (const line of lines) {
    const header = /^\s*\[[^[]/.test(line) ? line.trim() : undefined;
    if (header) out.push({ header, text: `${line}\n` });
    else if (out.length === 0) top.push(line);
    else out[out.length - 1]!.text += `${line}\n`;
  }
  return { top: top.join('\n'), tables: out };
}

const isCri = (t: Table): boolean => t.header === `${CRI_HEADER}]` || t.header.startsWith(`${CRI_HEADER}.`);
const isHandler = (t: Table, handler: string): boolean => {
  const h = runtimeHeader(handler);
  return t.header === `${h}]` || t.header.startsWith(`${h}.`);
};

/** The CRI plugin's tables of a `containerd config dump`, without the handler's own (if it is there). */
export function criSections(dump: string, handler: string): string {
  return tables(dump).tables.filter((t) => isCri(t) && !isHandler(t, handler)).map((t) => t.text.replace(/\n+$/, '\n')).join('');
}

/** The handler's tables of a dump ('' when it has none). */
export function handlerSections(dump: string, handler: string): string {
  return tables(dump).tables.filter((t) => isHandler(t, handler)).map((t) => t.text.replace(/\n+$/, '\n')).join('');
}

/** A top-level array of strings of a dump (`disabled_plugins`, `imports`), [] when absent. */
export function topLevelStrings(dump: string, key: string): string[] {
  const { top } = tables(dump);
  const at = new RegExp(`^${key}\\s*=`, 'm').exec(top);
  if (!at) return [];
  return parseStringArray(top, top.indexOf('=', at.index) + 1).values;
}

/** The drop-in: the node's effective CRI section (from `config dump` of its config without Sandpod) plus the handler. */
export function dropInText(effectiveDump: string, o: HandlerOptions, header: string): string {
  return [
    `# ${header}`,
    '# containerd 1.6/1.7 replace a whole plugin section with an imported one, so this file carries the node\'s',
    '# CRI settings as they were at install time, plus the handler. After changing CRI settings in the main',
    '# configuration, run `sandpod node install` again to carry them over.',
    'version = 2',
    '',
    criSections(effectiveDump, o.handler) + handlerSection(o),
  ].join('\n');
}

/** A TOML array of strings starting at `from` (just after `=`): its values and the offsets of `[` and `]`. */
export function parseStringArray(text: string, from: number): { values: string[]; open: number; close: number } {
  let i = from;
  const skipSpace = (): void => {
    for (;;) {
      while (i < text.length && /\s/.test(text[i]!)) i++;
      if (text[i] === '#') { while (i < text.length && text[i] !== '\n') i++; continue; }
      return;
    }
  };
  skipSpace();
  if (text[i] !== '[') throw invalid('containerd-config', 'imports is not an array of strings');
  const open = i++;
  const values: string[] = [];
  for (;;) {
    skipSpace();
    const c = text[i];
    if (c === ']') return { values, open, close: i };
    if (c === ',') { i++; continue; }
    if (c === '"' || c === "'") {
      const end = c === "'" ? text.indexOf("'", i + 1) : findQuote(text, i + 1);
      if (end < 0) break;
      const raw = text.slice(i, end + 1);
      values.push(c === "'" ? raw.slice(1, -1) : (JSON.parse(raw) as string));
      i = end + 1;
      continue;
    }
    break;
  }
  throw invalid('containerd-config', 'imports is not an array of strings: fix the line by hand, then run the install again');
}

function findQuote(text: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    if (text[i] === '\\') { i++; continue; }
    if (text[i] === '"') return i;
    if (text[i] === '\n') return -1;
  }
  return -1;
}

/** The top-level part of a config file: everything before its first table header. */
function topLevelEnd(text: string): number {
  const m = /^[ \t]*\[/m.exec(text);
  return m ? m.index : text.length;
}

/** The main file's config version: 2 or 3 as written, 1 when it says none (containerd 1.x reads it as version 1). */
export function configVersion(text: string): number {
  const m = /^version\s*=\s*(\d+)/m.exec(text.slice(0, topLevelEnd(text)));
  return m ? Number(m[1]) : 1;
}

/** What the install inserted into the main file, kept in the install record to take it out again. */
export interface ImportEdit {
  /** The exact text inserted. */
  inserted: string;
  /** Where it went in: 'array' inside an existing imports array, 'line' a new `imports` line. */
  kind: 'array' | 'line';
}

/** The main config's import paths (as written, relative ones are relative to the file's directory). */
export function importsOf(text: string): string[] {
  const top = text.slice(0, topLevelEnd(text));
  const m = /^imports\s*=/m.exec(top);
  return m ? parseStringArray(text, m.index + m[0].length).values : [];
}

/** The main file with `path` in its imports; undefined edit when it is there already. */
export function addImport(text: string, path: string): { text: string; edit?: ImportEdit } {
  if (importsOf(text).includes(path)) return { text };
  const top = text.slice(0, topLevelEnd(text));
  const m = /^imports\s*=/m.exec(top);
  if (m) {
    const { values, close } = parseStringArray(text, m.index + m[0].length);
    const inserted = `${values.length > 0 ? ', ' : ''}${tomlString(path)}`;
    return { text: text.slice(0, close) + inserted + text.slice(close), edit: { kind: 'array', inserted } };
  }
  const version = /^version\s*=.*\n/m.exec(top);
  const inserted = `imports = [${tomlString(path)}]  # added by sandpod node install\n`;
  const at = version ? version.index + version[0].length : 0;
  return { text: text.slice(0, at) + inserted + text.slice(at), edit: { kind: 'line', inserted } };
}

/** The main file without what addImport inserted; the same text when it is no longer there. */
export function removeImport(text: string, edit: ImportEdit): string {
  const top = text.slice(0, topLevelEnd(text));
  if (edit.kind === 'line') {
    const at = top.indexOf(edit.inserted);
    return at < 0 ? text : text.slice(0, at) + text.slice(at + edit.inserted.length);
  }
  const m = /^imports\s*=/m.exec(top);
  if (!m) return text;
  const { open, close } = parseStringArray(text, m.index + m[0].length);
  const array = text.slice(open, close + 1);
  const at = array.lastIndexOf(edit.inserted);
  if (at < 0) return text;
  return text.slice(0, open + at) + text.slice(open + at + edit.inserted.length);
}

/**
 * The main file with its relative imports made absolute (against `dir`) and `without` left out: what
 * `containerd config dump` is run on from elsewhere to see the node's configuration without Sandpod.
 */
export function absoluteImports(text: string, dir: string, without?: string): string {
  const top = text.slice(0, topLevelEnd(text));
  const m = /^imports\s*=/m.exec(top);
  if (!m) return text;
  const { values, open, close } = parseStringArray(text, m.index + m[0].length);
  const abs = values.filter((v) => v !== without).map((v) => (v.startsWith('/') ? v : `${dir}/${v}`));
  return `${text.slice(0, open)}[${abs.map(tomlString).join(', ')}]${text.slice(close + 1)}`;
}
