/** Legacy discovery documents (/api, /apis, per group-version) and /version, built from the resource list. */
import { verbsOf, type ResourceDef } from './resources/resource.js';


export interface GroupVersion {
  group: string;
  version: string;
}

export function groupVersions(resources: readonly ResourceDef[]): GroupVersion[] {
  const seen = new Map<string, GroupVersion>();
  for (const r of resources) seen.set(`${r.group}/${r.version}`, { group: r.group, version: r.version });
  return [...seen.values()];
}

export function apiVersions(serverAddress: string): unknown {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
}

export function apiGroupList(resources: readonly ResourceDef[]): unknown {
  const groups = groupVersions(resources).filter((gv) => gv.group !== '');
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: groups.map((gv) => {
      const v = { groupVersion: `${gv.group}/${gv.version}`, version: gv.version };
      return { name: gv.group, versions: [v], preferredVersion: v };
    }),
  };
}

export function apiResourceList(resources: readonly ResourceDef[], gv: GroupVersion): unknown {
  const list: unknown[] = [];
  for (const r of resources.filter((x) => x.group === gv.group && x.version === gv.version)) {
    list.push({
      name: r.plural, singularName: r.singular, namespaced: r.namespaced, kind: r.kind, verbs: verbsOf(r),
      ...(r.shortNames.length > 0 ? { shortNames: r.shortNames } : {}),
      ...(r.categories.length > 0 ? { categories: r.categories } : {}),
    });
    for (const s of r.subresources) list.push({ name: `${r.plural}/${s.name}`, singularName: '', namespaced: r.namespaced, kind: s.kind, verbs: s.verbs });
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: gv.group ? `${gv.group}/${gv.version}` : gv.version, resources: list };
}

export const serverVersion = {
  major: '1', minor: '32', gitVersion: 'v1.32.0-sandpod', gitCommit: 'sandpod', gitTreeState: 'clean',
  buildDate: '2026-01-01T00:00:00Z', goVersion: `node${process.versions.node}`, compiler: 'tsc', platform: `${process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch}`,
};

/** The aggregated discovery version the Accept header asks for (v2, else v2beta1), or undefined for legacy. */
export function aggregatedDiscoveryVersion(accept: string | undefined): 'v2' | 'v2beta1' | undefined {
  const offers = (accept ?? '').split(',').map((part) => part.split(';').map((p) => p.trim()));
  const wants = (v: string): boolean => offers.some((p) => p.includes('as=APIGroupDiscoveryList') && p.includes('g=apidiscovery.k8s.io') && p.includes(`v=${v}`));
  if (wants('v2')) return 'v2';
  if (wants('v2beta1')) return 'v2beta1';
  return undefined;
}

export const aggregatedContentType = (v: 'v2' | 'v2beta1'): string => `application/json;g=apidiscovery.k8s.io;v=${v};as=APIGroupDiscoveryList`;

/** APIGroupDiscoveryList for the core group (`core: true`, served at /api) or for the named groups (/apis). */
export function aggregatedDiscovery(resources: readonly ResourceDef[], core: boolean, v: 'v2' | 'v2beta1'): unknown {
  const gvs = groupVersions(resources).filter((gv) => (gv.group === '') === core);
  const groups = [...new Set(gvs.map((gv) => gv.group))];
  return {
    kind: 'APIGroupDiscoveryList',
    apiVersion: `apidiscovery.k8s.io/${v}`,
    metadata: {},
    items: groups.map((group) => ({
      metadata: { name: group },
      versions: gvs.filter((gv) => gv.group === group).map((gv) => ({
        version: gv.version,
        freshness: 'Current',
        resources: resources.filter((r) => r.group === group && r.version === gv.version).map((r) => ({
          resource: r.plural,
          responseKind: { group: r.group, version: r.version, kind: r.kind },
          scope: r.namespaced ? 'Namespaced' : 'Cluster',
          singularResource: r.singular,
          verbs: verbsOf(r),
          ...(r.shortNames.length > 0 ? { shortNames: r.shortNames } : {}),
          ...(r.categories.length > 0 ? { categories: r.categories } : {}),
          subresources: r.subresources.map((s) => ({
            subresource: s.name, responseKind: { group: r.group, version: r.version, kind: s.kind }, verbs: s.verbs,
          })),
        })),
      })),
    })),
  };
}
