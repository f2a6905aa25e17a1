/** Turns a request's method and path into a typed route; no I/O here. */

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection' | 'connect';

export type Route =
  | { type: 'version' }
  | { type: 'health'; check: string }
  | { type: 'apiVersions' }
  | { type: 'apiGroups' }
  | { type: 'resourceList'; group: string; version: string }
  | { type: 'openapiIndex' }
  | { type: 'openapiDocument'; key: string }
  | { type: 'resource'; verb: Verb; group: string; version: string; plural: string; namespace?: string; name?: string; subresource?: string }
  | { type: 'unknown' };

const isWatch = (q: URLSearchParams): boolean => q.get('watch') === 'true' || q.get('watch') === '1';

function verbFor(method: string, hasName: boolean, subresource: string | undefined, query: URLSearchParams): Verb | undefined {
  if (subresource === 'log' || subresource === 'exec' || subresource === 'attach' || subresource === 'portforward') return method === 'GET' || method === 'POST' ? 'connect' : undefined;
  switch (method) {
    case 'GET': return hasName ? 'get' : isWatch(query) ? 'watch' : 'list';
    case 'POST': return hasName ? (subresource ? 'create' : undefined) : 'create';
    case 'PUT': return hasName ? 'update' : undefined;
    case 'PATCH': return hasName ? 'patch' : undefined;
    case 'DELETE': return hasName ? 'delete' : 'deletecollection';
    default: return undefined;
  }
}

export function route(method: string, path: string, query: URLSearchParams): Route {
  const parts = path.split('/').filter((p) => p !== '').map(decodeURIComponent);
  if (path === '/version' || path === '/version/') return { type: 'version' };
  if (parts[0] === 'healthz' || parts[0] === 'readyz' || parts[0] === 'livez') return { type: 'health', check: parts[0] };
  if (parts[0] === 'openapi' && parts[1] === 'v3') {
    return parts.length === 2 ? { type: 'openapiIndex' } : { type: 'openapiDocument', key: parts.slice(2).join('/') };
  }
  let group: string;
  let version: string;
  let rest: string[];
  if (parts[0] === 'api') {
    if (parts.length === 1) return { type: 'apiVersions' };
    group = '';
    version = parts[1]!;
    rest = parts.slice(2);
  } else if (parts[0] === 'apis') {
    if (parts.length === 1) return { type: 'apiGroups' };
    if (parts.length === 2) return { type: 'unknown' };
    group = parts[1]!;
    version = parts[2]!;
    rest = parts.slice(3);
  } else return { type: 'unknown' };
  if (rest.length === 0) return { type: 'resourceList', group, version };
  let namespace: string | undefined;
  const namespaceSubresource = rest.length === 3 && (rest[2] === 'status' || rest[2] === 'finalize');
  if (rest[0] === 'namespaces' && rest.length >= 3 && !namespaceSubresource) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [plural, name, subresource, ...extra] = rest;
  if (!plural || extra.length > 0) return { type: 'unknown' };
  const verb = verbFor(method, name !== undefined, subresource, query);
  if (!verb) return { type: 'unknown' };
  return {
    type: 'resource', verb, group, version, plural,
    ...(namespace !== undefined ? { namespace } : {}),
    ...(name !== undefined ? { name } : {}),
    ...(subresource !== undefined ? { subresource } : {}),
  };
}
