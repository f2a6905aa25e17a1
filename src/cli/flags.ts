/**
 * Flags as the managed service's CLI takes them: `--name value`, `--name=value`, short aliases (`-n`, `-g`, `-o`),
 * lists given as several words after one flag (`--labels a=b c=d`) or the flag repeated. Each command declares its
 * flags; an unknown flag is a usage error (with the nearest known one), and a flag that means nothing on one
 * machine is accepted and reported once as ignored, with the reason. The values are then checked by the command's
 * zod schema, so its options are typed and a malformed value is a usage error that names the flag.
 */
import type { z } from 'zod';
import { UsageError } from './options.js';

export interface Flag {
  type: 'string' | 'boolean' | 'list';
  short?: string;
  /** Accepted and reported as ignored, with this reason. */
  ignored?: string;
}
export type FlagSet = Record<string, Flag>;

/** The flags of every command: Sandpod's roots and help; az's global ones that mean nothing here. */
export const COMMON_FLAGS: FlagSet = {
  'state-dir': { type: 'string' },
  'cache-dir': { type: 'string' },
  'run-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  subscription: { type: 'string', ignored: 'everything runs on this machine; there are no subscriptions' },
  'only-show-errors': { type: 'boolean', ignored: 'Sandpod prints warnings when there are any' },
};

/** The flags that print an object. */
export const OUTPUT_FLAGS: FlagSet = { output: { type: 'string', short: 'o' } };

export type FlagValues = Record<string, string | boolean | string[]>;
export interface ParsedFlags { values: FlagValues; ignored: Array<{ flag: string; reason: string }>; positionals: string[] }

function nearest(name: string, known: string[]): string | undefined {
  const distance = (a: string, b: string): number => {
    const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
    for (let j = 1; j <= b.length; j++) d[0]![j] = j;
    for (let i = 1; i <= a.length; i++) {
      for (let j = 1; j <= b.length; j++) d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    return d[a.length]![b.length]!;
  };
  const best = known.map((k) => ({ k, d: distance(name, k) })).sort((x, y) => x.d - y.d)[0];
  return best && best.d <= Math.max(2, Math.floor(name.length / 3)) ? best.k : undefined;
}

export function parseFlags(command: string, argv: string[], declared: FlagSet): ParsedFlags {
  const flags: FlagSet = { ...COMMON_FLAGS, ...declared };
  const byShort = new Map(Object.entries(flags).filter(([, f]) => f.short).map(([name, f]) => [f.short!, name]));
  const usage = (msg: string): UsageError => new UsageError(`sandpod ${command}: ${msg}. See 'sandpod ${command} --help'`);
  const values: FlagValues = {};
  const ignored: ParsedFlags['ignored'] = [];
  const positionals: string[] = [];
  const isFlag = (t: string | undefined): boolean => t !== undefined && /^-{1,2}[a-zA-Z]/.test(t);
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!isFlag(token)) {
      positionals.push(token);
      continue;
    }
    const eq = token.indexOf('=');
    const raw = eq > 0 ? token.slice(0, eq) : token;
    const name = raw.startsWith('--') ? raw.slice(2) : byShort.get(raw.slice(1));
    const flag = name === undefined ? undefined : flags[name];
    if (name === undefined || !flag) {
      const guess = nearest(raw.replace(/^-+/, ''), Object.keys(flags));
      throw usage(`unknown flag ${raw}${guess ? `; did you mean --${guess}?` : ''}`);
    }
    let value: string | boolean | string[];
    if (flag.type === 'boolean') {
      const given = eq > 0 ? token.slice(eq + 1) : undefined;
      if (given !== undefined && given !== 'true' && given !== 'false') throw usage(`--${name} takes no value (or true/false), not "${given}"`);
      value = given !== 'false';
    } else if (eq > 0) {
      value = token.slice(eq + 1);
    } else {
      const words: string[] = [];
      while (i + 1 < argv.length && !isFlag(argv[i + 1]) && argv[i + 1] !== '--' && (flag.type === 'list' || words.length === 0)) words.push(argv[++i]!);
      if (words.length === 0) throw usage(`--${name} needs a value`);
      value = flag.type === 'list' ? words : words[0]!;
    }
    if (flag.ignored) {
      if (!ignored.some((x) => x.flag === `--${name}`)) ignored.push({ flag: `--${name}`, reason: flag.ignored });
      continue;
    }
    if (flag.type === 'list') {
      const prev = values[name];
      values[name] = [...(Array.isArray(prev) ? prev : []), ...(Array.isArray(value) ? value : [String(value)])];
    } else {
      if (name in values && values[name] !== value) throw usage(`--${name} is given twice`);
      values[name] = value;
    }
  }
  return { values, ignored, positionals };
}

/** The flag values checked and typed by `schema`; a failure is a usage error naming the flag. */
export function checkFlags<S extends z.ZodType>(command: string, schema: S, values: FlagValues): z.infer<S> {
  const parsed = schema.safeParse(values);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const flag = issue?.path[0] === undefined ? '' : `--${String(issue.path[0])}: `;
  throw new UsageError(`sandpod ${command}: ${flag}${issue?.message ?? 'invalid flags'}. See 'sandpod ${command} --help'`);
}

/** Says once, on stderr, which flags were accepted but mean nothing here, and why. */
export function reportIgnored(command: string, parsed: ParsedFlags, write: (line: string) => void = (l) => process.stderr.write(l)): void {
  for (const { flag, reason } of parsed.ignored) write(`sandpod ${command}: ignoring ${flag}: ${reason}\n`);
}

/**
 * A command's flags in one step: parsed and checked by its schema; then either its usage printed (undefined: the
 * command has nothing more to do) or the ignored flags reported and the typed values returned.
 */
export function commandFlags<S extends z.ZodType<{ help?: boolean | undefined }>>(command: string, argv: string[], flags: FlagSet, schema: S, usage: string): z.infer<S> | undefined {
  const parsed = parseFlags(command, argv, flags);
  const values = checkFlags(command, schema, parsed.values);
  if (values.help) {
    process.stdout.write(usage);
    return undefined;
  }
  reportIgnored(command, parsed);
  return values;
}
