/** IPv4 prefixes as the cluster model needs them: parse, overlap, carve blocks for nodes, address within. */
import { invalid } from '../errors.js';

export interface Cidr {
  /** The network address as an unsigned 32-bit number. */
  base: number;
  prefix: number;
}

const ipv4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export function parseIp(text: string): number | undefined {
  const m = ipv4.exec(text);
  if (!m) return undefined;
  const parts = m.slice(1, 5).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!;
}

export const formatIp = (n: number): string => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');

const mask = (prefix: number): number => (prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0);

/** A CIDR from text, or undefined when it is not one (host bits set count as not one: say the network). */
export function tryParseCidr(text: string): Cidr | undefined {
  const [addr, len, ...rest] = text.split('/');
  if (rest.length > 0 || addr === undefined || len === undefined || !/^\d{1,2}$/.test(len)) return undefined;
  const base = parseIp(addr);
  const prefix = Number(len);
  if (base === undefined || prefix > 32) return undefined;
  if ((base & mask(prefix)) >>> 0 !== base) return undefined;
  return { base, prefix };
}

/** Why `text` is not a CIDR (naming the flag and the network it probably meant), or undefined when it is one. */
export function cidrProblem(text: string, flag: string): string | undefined {
  if (tryParseCidr(text)) return undefined;
  const [addr, len] = text.split('/');
  const base = addr === undefined ? undefined : parseIp(addr);
  const prefix = Number(len);
  if (base !== undefined && Number.isInteger(prefix) && prefix >= 0 && prefix <= 32) {
    return `${flag} ${text} has host bits set; did you mean ${formatCidr({ base: (base & mask(prefix)) >>> 0, prefix })}?`;
  }
  return `${flag} "${text}" is not an IPv4 CIDR such as 10.244.0.0/16`;
}

/** Like tryParseCidr, failing (Invalid) with cidrProblem's message. */
export function parseCidr(text: string, flag: string): Cidr {
  const problem = cidrProblem(text, flag);
  if (problem) throw invalid(flag, problem);
  return tryParseCidr(text)!;
}

export const formatCidr = (c: Cidr): string => `${formatIp(c.base)}/${c.prefix}`;

export const size = (c: Cidr): number => 2 ** (32 - c.prefix);

export function overlaps(a: Cidr, b: Cidr): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return ((a.base & mask(p)) >>> 0) === ((b.base & mask(p)) >>> 0);
}

export function contains(outer: Cidr, inner: Cidr): boolean {
  return outer.prefix <= inner.prefix && ((inner.base & mask(outer.prefix)) >>> 0) === outer.base;
}

/** The `index`-th block of prefix `prefix` inside `c` (index from 0). */
export function block(c: Cidr, prefix: number, index: number): Cidr {
  if (prefix < c.prefix || index < 0 || index >= 2 ** (prefix - c.prefix)) {
    throw invalid(formatCidr(c), `${formatCidr(c)} has no block ${index} of /${prefix}`);
  }
  return { base: (c.base + index * 2 ** (32 - prefix)) >>> 0, prefix };
}

/** The `n`-th address of the block (1 is the first host address). */
export const address = (c: Cidr, n: number): string => formatIp((c.base + n) >>> 0);

/**
 * The prefix of each node's pod CIDR in a pod subnet: /24 as kubenet gives (AKS's `--pod-cidr` split), unless the
 * subnet itself is a /24 or smaller; then the smallest block that holds `maxPods` pods, the gateway, the network and
 * broadcast addresses.
 */
export function nodeBlockPrefix(subnet: Cidr, maxPods: number): number {
  if (subnet.prefix < 24) return 24;
  return Math.min(32 - Math.ceil(Math.log2(maxPods + 3)), 30);
}

/** How many nodes' pod CIDRs the subnet holds. */
export const nodeBlocks = (subnet: Cidr, maxPods: number): number => {
  const p = nodeBlockPrefix(subnet, maxPods);
  return p < subnet.prefix ? 0 : 2 ** (p - subnet.prefix);
};
