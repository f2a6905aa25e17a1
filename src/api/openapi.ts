/**
 * The OpenAPI v3 documents kubectl's default validation reads: one PATCH operation per kind carrying its
 * group-version-kind and the `fieldValidation` parameter, so kubectl leaves validation to the server.
 * The PATCH operations have no requestBody on purpose: kubectl then builds strategic patches from its own types.
 * Computed resources, which cannot be written, have none.
 */
import { createHash } from 'node:crypto';
import { apiVersionOf, type ResourceDef } from './resources/resource.js';
import { groupVersions, type GroupVersion } from './discovery.js';

const gvPath = (gv: GroupVersion): string => (gv.group ? `apis/${gv.group}/${gv.version}` : `api/${gv.version}`);

function itemPath(r: ResourceDef): string {
  const base = `/${gvPath(r)}`;
  return r.namespaced ? `${base}/namespaces/{namespace}/${r.plural}/{name}` : `${base}/${r.plural}/{name}`;
}

export function openApiDocument(resources: readonly ResourceDef[], gv: GroupVersion): unknown {
  const paths: Record<string, unknown> = {};
  for (const r of resources.filter((x) => x.group === gv.group && x.version === gv.version && !x.computed)) {
    paths[itemPath(r)] = {
      patch: {
        operationId: `patch${r.kind}`,
        'x-kubernetes-action': 'patch',
        'x-kubernetes-group-version-kind': { group: r.group, version: r.version, kind: r.kind },
        parameters: [
          { name: 'fieldValidation', in: 'query', description: 'Ignore, Warn or Strict', schema: { type: 'string', uniqueItems: true } },
          { name: 'fieldManager', in: 'query', schema: { type: 'string', uniqueItems: true } },
          { name: 'dryRun', in: 'query', schema: { type: 'string', uniqueItems: true } },
        ],
        responses: { '200': { description: 'OK' } },
      },
    };
  }
  return {
    openapi: '3.0.0',
    info: { title: 'Sandpod', version: apiVersionOf(gv) },
    paths,
    components: { schemas: {} },
  };
}

export interface OpenApiV3 {
  index: unknown;
  documents: Map<string, { hash: string; body: string }>;
}

/** The index (`/openapi/v3`) and every per-group-version document, each with a content hash. */
export function buildOpenApiV3(resources: readonly ResourceDef[]): OpenApiV3 {
  const documents = new Map<string, { hash: string; body: string }>();
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const gv of groupVersions(resources)) {
    const body = JSON.stringify(openApiDocument(resources, gv));
    const hash = createHash('sha512').update(body).digest('hex').slice(0, 64).toUpperCase();
    const key = gvPath(gv);
    documents.set(key, { hash, body });
    paths[key] = { serverRelativeURL: `/openapi/v3/${key}?hash=${hash}` };
  }
  return { index: { paths }, documents };
}
