/**
 * networking.k8s.io/v1 NetworkPolicy as both sides read it: one schema for the API server (strict decoding) and the
 * node (enforcement), kube-apiserver's defaulting (policyTypes from the rules, port protocol TCP) and its validation
 * with field paths and words (pkg/apis/networking/validation).
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { z } from 'zod';
import { checkLabels, forbidden, invalidValue, notSupported, required, type FieldError } from './validation.js';

export const POLICY_TYPES = ['Ingress', 'Egress'] as const;
export type PolicyType = (typeof POLICY_TYPES)[number];
export const POLICY_PROTOCOLS = ['TCP', 'UDP', 'SCTP'] as const;
export type PolicyProtocol = (typeof POLICY_PROTOCOLS)[number];

export const labelSelectorSchema = z.strictObject({
  matchLabels: z.record(z.string(), z.string()).nullable().optional(),
  matchExpressions: z.array(z.strictObject({ key: z.string(), operator: z.string(), values: z.array(z.string()).nullable().optional() })).nullable().optional(),
});
export type LabelSelector = z.infer<typeof labelSelectorSchema>;

const peerSchema = z.strictObject({
  podSelector: labelSelectorSchema.nullable().optional(),
  namespaceSelector: labelSelectorSchema.nullable().optional(),
  ipBlock: z.strictObject({ cidr: z.string(), except: z.array(z.string()).nullable().optional() }).nullable().optional(),
});
export type NetworkPolicyPeer = z.infer<typeof peerSchema>;

const portSchema = z.strictObject({
  protocol: z.string().optional(),
  port: z.union([z.number().int(), z.string()]).optional(),
  endPort: z.number().int().optional(),
});
export type NetworkPolicyPort = z.infer<typeof portSchema>;

export const networkPolicySpecSchema = z.strictObject({
  podSelector: labelSelectorSchema.nullable().optional(),
  policyTypes: z.array(z.string()).nullable().optional(),
  ingress: z.array(z.strictObject({ from: z.array(peerSchema).nullable().optional(), ports: z.array(portSchema).nullable().optional() })).nullable().optional(),
  egress: z.array(z.strictObject({ to: z.array(peerSchema).nullable().optional(), ports: z.array(portSchema).nullable().optional() })).nullable().optional(),
});
export type NetworkPolicySpec = z.infer<typeof networkPolicySpecSchema>;

/**
 * The policy types a policy has, as kube-apiserver defaults them: the given ones, else Ingress, plus Egress when the
 * policy has egress rules.
 */
export function policyTypesOf(spec: Pick<NetworkPolicySpec, 'policyTypes' | 'egress'>): PolicyType[] {
  if (spec.policyTypes && spec.policyTypes.length > 0) return POLICY_TYPES.filter((t) => spec.policyTypes!.includes(t));
  return (spec.egress ?? []).length > 0 ? ['Ingress', 'Egress'] : ['Ingress'];
}

/** kube-apiserver's defaults (SetDefaults_NetworkPolicy and _NetworkPolicyPort), applied in place. */
export function defaultNetworkPolicySpec(spec: NetworkPolicySpec): void {
  spec.podSelector ??= {};
  if (!spec.policyTypes || spec.policyTypes.length === 0) spec.policyTypes = policyTypesOf(spec);
  for (const rule of [...(spec.ingress ?? []), ...(spec.egress ?? [])]) for (const p of rule.ports ?? []) p.protocol ??= 'TCP';
}

/** IsValidPortName's complaints about a named port (an IANA_SVC_NAME), in its order and words. */
export function portNameProblems(name: string): string[] {
  const out: string[] = [];
  if (name.length > 15) out.push('must be no more than 15 characters');
  if (!/^[-a-z0-9]+$/.test(name)) out.push('must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)');
  if (!/[a-z]/.test(name)) out.push('must contain at least one letter (a-z)');
  if (name.includes('--')) out.push('must not contain consecutive hyphens');
  if (name.startsWith('-') || name.endsWith('-')) out.push('must not begin or end with a hyphen');
  return out;
}

const portRange = 'must be between 1 and 65535, inclusive';
const validPort = (n: number): boolean => Number.isInteger(n) && n >= 1 && n <= 65535;

function checkPort(p: NetworkPolicyPort, field: string): FieldError[] {
  const errs: FieldError[] = [];
  if (p.protocol !== undefined && !(POLICY_PROTOCOLS as readonly string[]).includes(p.protocol)) errs.push(notSupported(`${field}.protocol`, p.protocol, POLICY_PROTOCOLS));
  if (p.port === undefined) {
    if (p.endPort !== undefined) errs.push(invalidValue(`${field}.endPort`, p.endPort, 'may not be specified when `port` is not specified'));
  } else if (typeof p.port === 'number') {
    if (!validPort(p.port)) errs.push(invalidValue(`${field}.port`, p.port, portRange));
    if (p.endPort !== undefined) {
      if (p.endPort < p.port) errs.push(invalidValue(`${field}.endPort`, p.port, 'must be greater than or equal to `port`'));
      if (!validPort(p.endPort)) errs.push(invalidValue(`${field}.endPort`, p.endPort, portRange));
    }
  } else {
    if (p.endPort !== undefined) errs.push(invalidValue(`${field}.endPort`, p.endPort, 'may not be specified when `port` is non-numeric'));
    for (const msg of portNameProblems(p.port)) errs.push(invalidValue(`${field}.port`, p.port, msg));
  }
  return errs;
}

/** unversionedvalidation.ValidateLabelSelector: expressions' operators and values, keys and matchLabels. */
export function checkLabelSelector(sel: LabelSelector | null | undefined, field: string): FieldError[] {
  if (!sel) return [];
  const errs: FieldError[] = [];
  (sel.matchExpressions ?? []).forEach((e, i) => {
    const f = `${field}.matchExpressions[${i}]`;
    const values = e.values ?? [];
    if (e.operator === 'In' || e.operator === 'NotIn') {
      if (values.length === 0) errs.push({ type: 'FieldValueRequired', field: `${f}.values`, detail: "Required value: must be specified when `operator` is 'In' or 'NotIn'" });
    } else if (e.operator === 'Exists' || e.operator === 'DoesNotExist') {
      if (values.length > 0) errs.push(forbidden(`${f}.values`, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
    } else {
      errs.push(invalidValue(`${f}.operator`, e.operator, 'not a valid selector operator'));
    }
    errs.push(...checkLabels({ [e.key]: '' }, `${f}.key`));
  });
  errs.push(...checkLabels(sel.matchLabels ?? {}, `${field}.matchLabels`));
  return errs;
}

export interface ParsedCidr { address: string; prefix: number; family: 'ipv4' | 'ipv6' }

/** A CIDR as ParseCIDRSloppy reads it (host bits may be set), or undefined. */
export function parseCidrText(text: string): ParsedCidr | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const address = text.slice(0, slash);
  const len = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(len)) return undefined;
  const prefix = Number(len);
  if (isIPv4(address) && prefix <= 32) return { address, prefix, family: 'ipv4' };
  if (isIPv6(address) && prefix <= 128) return { address, prefix, family: 'ipv6' };
  return undefined;
}

/** Whether `inner` is a strict subset of `outer` (same family, longer prefix, its network inside). */
export function strictSubset(outer: ParsedCidr, inner: ParsedCidr): boolean {
  if (outer.family !== inner.family || inner.prefix <= outer.prefix) return false;
  const list = new BlockList();
  list.addSubnet(outer.address, outer.prefix, outer.family);
  return list.check(inner.address, inner.family);
}

const badCidr = 'must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)';

function checkPeer(peer: NetworkPolicyPeer, field: string): FieldError[] {
  const errs: FieldError[] = [];
  let peers = 0;
  if (peer.podSelector) { peers++; errs.push(...checkLabelSelector(peer.podSelector, `${field}.podSelector`)); }
  if (peer.namespaceSelector) { peers++; errs.push(...checkLabelSelector(peer.namespaceSelector, `${field}.namespaceSelector`)); }
  if (peer.ipBlock) {
    peers++;
    const b = peer.ipBlock;
    const f = `${field}.ipBlock`;
    if (b.cidr === '') errs.push(required(`${f}.cidr`));
    else {
      const cidr = parseCidrText(b.cidr);
      if (!cidr) errs.push(invalidValue(`${f}.cidr`, b.cidr, badCidr));
      else {
        (b.except ?? []).forEach((e, i) => {
          const except = parseCidrText(e);
          if (!except) errs.push(invalidValue(`${f}.except[${i}]`, e, badCidr));
          else if (!strictSubset(cidr, except)) errs.push(invalidValue(`${f}.except[${i}]`, e, 'must be a strict subset of `cidr`'));
        });
      }
    }
  }
  if (peers === 0) errs.push({ type: 'FieldValueRequired', field, detail: 'Required value: must specify a peer' });
  else if (peers > 1 && peer.ipBlock) errs.push(forbidden(field, 'may not specify both ipBlock and another peer'));
  return errs;
}

/** ValidateNetworkPolicySpec: selectors, every rule's ports and peers, and the policy types. */
export function checkNetworkPolicySpec(spec: NetworkPolicySpec, field = 'spec'): FieldError[] {
  const errs = checkLabelSelector(spec.podSelector, `${field}.podSelector`);
  (spec.ingress ?? []).forEach((rule, i) => {
    (rule.ports ?? []).forEach((p, j) => errs.push(...checkPort(p, `${field}.ingress[${i}].ports[${j}]`)));
    (rule.from ?? []).forEach((p, j) => errs.push(...checkPeer(p, `${field}.ingress[${i}].from[${j}]`)));
  });
  (spec.egress ?? []).forEach((rule, i) => {
    (rule.ports ?? []).forEach((p, j) => errs.push(...checkPort(p, `${field}.egress[${i}].ports[${j}]`)));
    (rule.to ?? []).forEach((p, j) => errs.push(...checkPeer(p, `${field}.egress[${i}].to[${j}]`)));
  });
  const types = spec.policyTypes ?? [];
  if (types.length > POLICY_TYPES.length) {
    errs.push(invalidValue(`${field}.policyTypes`, types, 'may not specify more than two policyTypes'));
    return errs;
  }
  types.forEach((t, i) => { if (!(POLICY_TYPES as readonly string[]).includes(t)) errs.push(notSupported(`${field}.policyTypes[${i}]`, t, POLICY_TYPES)); });
  return errs;
}
