/**
 * Kubernetes resource quantities ("500m", "1Gi", "2e3"). Parsed to a plain number of base units
 * (cores for CPU, bytes for memory); precision beyond a double is not needed for scheduling.
 */

const suffixes: Record<string, number> = {
  '': 1,
  n: 1e-9, u: 1e-6, m: 1e-3,
  k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

const pattern = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$/;

/** The value of a quantity in base units, or undefined when the string is not a quantity. */
export function parseQuantity(text: string): number | undefined {
  const m = pattern.exec(text.trim());
  if (!m || text.trim() !== text) return undefined;
  const num = Number(m[1]);
  const suffix = m[2] ?? '';
  if (/^[eE]/.test(suffix)) return num * 10 ** Number(suffix.slice(1));
  const factor = suffixes[suffix];
  return factor === undefined ? undefined : num * factor;
}

/** A quantity from a manifest, which may be a JSON number or a string. */
export function quantityValue(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'string') return parseQuantity(v);
  return undefined;
}

/** Bytes as a short binary quantity ("512Mi"), for messages and annotations. */
export function formatBytes(bytes: number): string {
  for (const [s, f] of [['Gi', 2 ** 30], ['Mi', 2 ** 20], ['Ki', 2 ** 10]] as const) {
    if (bytes >= f && bytes % f === 0) return `${bytes / f}${s}`;
  }
  return String(bytes);
}

const decimalSuffixes = ['n', 'u', 'm', '', 'k', 'M', 'G', 'T', 'P', 'E'];

/**
 * A CPU rate in nanocores as Kubernetes writes a quantity of scale -9 (metrics.k8s.io `usage.cpu`): whole
 * nanocores under the largest decimal suffix that keeps the value exact ("123456789n", "1500m", "250u", "2").
 */
export function formatNanoCores(nanoCores: number): string {
  let n = Math.max(0, Math.round(nanoCores));
  if (n === 0) return '0';
  let i = 0;
  while (i < decimalSuffixes.length - 1 && n % 1000 === 0) {
    n /= 1000;
    i++;
  }
  return `${n}${decimalSuffixes[i] ?? ''}`;
}

export type ResourceList = Record<string, number>;

/** Sums resource lists key by key. */
export function addResources(...lists: ResourceList[]): ResourceList {
  const out: ResourceList = {};
  for (const l of lists) for (const [k, v] of Object.entries(l)) out[k] = (out[k] ?? 0) + v;
  return out;
}

/** Parses a `{cpu: "500m", memory: "1Gi"}` map, skipping entries that are not quantities. */
export function parseResourceList(v: unknown): ResourceList {
  const out: ResourceList = {};
  if (typeof v !== 'object' || v === null) return out;
  for (const [k, q] of Object.entries(v)) {
    const n = quantityValue(q);
    if (n !== undefined) out[k] = n;
  }
  return out;
}
