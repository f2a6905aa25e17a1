/**
 * A pod's DNS configuration by its dnsPolicy and dnsConfig, as kubelet builds it: `Default` takes the node's
 * resolv.conf, `ClusterFirst` the cluster DNS when there is one (else the node's, which kubelet reports with a
 * MissingClusterDNS event), `None` only what dnsConfig says; dnsConfig is merged on top. The result goes to the
 * runtime as CRI's DNSConfig, which writes the pod's resolv.conf (a VM pod's too).
 */
import type { DNSConfig } from '../cri/index.js';
import type { PodSpec } from '../kube/index.js';

export interface ClusterDns {
  servers: string[];
  /** The cluster domain, e.g. cluster.local. */
  domain: string;
}

const MAX_SERVERS = 3;
const MAX_SEARCHES = 32;

/** Parses resolv.conf text into servers, searches and options. */
export function parseResolvConf(text: string): DNSConfig {
  const out: DNSConfig = { servers: [], searches: [], options: [] };
  for (const raw of text.split('\n')) {
    const [key, ...rest] = raw.replace(/[#;].*$/, '').trim().split(/\s+/);
    if (key === 'nameserver' && rest[0]) out.servers.push(rest[0]);
    else if (key === 'search' || key === 'domain') out.searches = rest.filter((s) => s !== '');
    else if (key === 'options') out.options.push(...rest.filter((s) => s !== ''));
  }
  return out;
}

const unique = (xs: string[]): string[] => [...new Set(xs)];

/**
 * The pod's DNS configuration, and whether ClusterFirst had to fall back to the node's because the cluster has
 * no DNS (kubelet's MissingClusterDNS).
 */
export function podDnsConfig(spec: PodSpec, namespace: string, node: DNSConfig, cluster: ClusterDns | undefined): { config: DNSConfig; missingClusterDns: boolean } {
  let policy = spec.dnsPolicy ?? 'ClusterFirst';
  if (policy === 'ClusterFirst' && spec.hostNetwork) policy = 'Default';
  let base: DNSConfig;
  let missingClusterDns = false;
  if (policy === 'None') base = { servers: [], searches: [], options: [] };
  else if (policy === 'Default') base = structuredClone(node);
  else if (cluster) {
    const d = cluster.domain;
    base = { servers: [...cluster.servers], searches: [`${namespace}.svc.${d}`, `svc.${d}`, d, ...node.searches], options: ['ndots:5'] };
  } else {
    base = structuredClone(node);
    missingClusterDns = true;
  }
  const extra = spec.dnsConfig;
  if (extra) {
    base.servers = unique([...base.servers, ...(extra.nameservers ?? [])]);
    base.searches = unique([...base.searches, ...(extra.searches ?? [])]);
    const options = new Map(base.options.map((o) => [o.split(':')[0] ?? o, o]));
    for (const o of extra.options ?? []) options.set(o.name, o.value !== undefined ? `${o.name}:${o.value}` : o.name);
    base.options = [...options.values()];
  }
  base.servers = base.servers.slice(0, MAX_SERVERS);
  base.searches = base.searches.slice(0, MAX_SEARCHES);
  return { config: base, missingClusterDns };
}
