/** metav1.Duration on the wire: Go's time.Duration String form ("10.062s", "1m30s", "250ms"). */

const units: Array<[string, number]> = [['ms', 1e6], ['µs', 1e3], ['ns', 1]];

/** `digits` without trailing zeros after the point, e.g. fraction(1500, 3) = ".5"; "" when it is zero. */
const fraction = (value: number, digits: number): string => {
  const text = String(value).padStart(digits, '0').replace(/0+$/, '');
  return text === '' ? '' : `.${text}`;
};

/** A duration given in nanoseconds (rounded to whole ones) as Go prints it. */
export function formatDuration(nanoseconds: number): string {
  const ns = Math.round(nanoseconds);
  if (ns === 0) return '0s';
  const sign = ns < 0 ? '-' : '';
  const abs = Math.abs(ns);
  if (abs < 1e9) {
    const [unit, size] = units.find(([, s]) => abs >= s) ?? ['ns', 1];
    return `${sign}${Math.floor(abs / size)}${fraction(abs % size, Math.log10(size))}${unit}`;
  }
  const totalSeconds = Math.floor(abs / 1e9);
  const h = Math.floor(totalSeconds / 3600);
  const m = Math.floor((totalSeconds % 3600) / 60);
  const s = totalSeconds % 60;
  return `${sign}${h > 0 ? `${h}h` : ''}${h > 0 || m > 0 ? `${m}m` : ''}${s}${fraction(abs % 1e9, 9)}s`;
}
