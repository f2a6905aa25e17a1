/**
 * The shim's command line as containerd writes it: Go-style single-dash flags, then an optional action
 * (`start`, `delete`); no action means "serve".
 */
export interface ShimFlags {
  namespace: string;
  address: string;
  publishBinary: string;
  id: string;
  bundle: string | undefined;
  debug: boolean;
  action: 'start' | 'delete' | 'serve';
}

const valued = new Set(['namespace', 'address', 'publish-binary', 'id', 'bundle', 'socket']);

export function parseShimFlags(argv: string[]): ShimFlags & { socket: string | undefined } {
  const v: Record<string, string> = {};
  let debug = false;
  let action: ShimFlags['action'] = 'serve';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === 'start' || a === 'delete') { action = a; continue; }
    const m = /^--?([a-z-]+)(?:=(.*))?$/.exec(a);
    if (!m?.[1]) throw new Error(`unexpected argument "${a}"`);
    const name = m[1];
    if (name === 'debug') { debug = true; continue; }
    if (!valued.has(name)) throw new Error(`unknown flag -${name}`);
    const value = m[2] ?? argv[++i];
    if (value === undefined) throw new Error(`flag -${name} needs a value`);
    v[name] = value;
  }
  if (!v['id']) throw new Error('flag -id is required');
  return {
    namespace: v['namespace'] ?? 'default', address: v['address'] ?? '', publishBinary: v['publish-binary'] ?? '',
    id: v['id'], bundle: v['bundle'], debug, action, socket: v['socket'],
  };
}
