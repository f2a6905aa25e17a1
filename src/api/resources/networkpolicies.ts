/**
 * networking.k8s.io/v1 NetworkPolicy: stored with kube-apiserver's defaults and validation (the schema, defaulting and
 * checks are src/kube/network-policy.ts, which the nodes read policies with too); every node agent enforces them.
 */
import { z } from 'zod';
import {
  checkNetworkPolicySpec, defaultNetworkPolicySpec, isRecord, networkPolicySpecSchema, type FieldError, type KubeObject,
} from '../../kube/index.js';
import { ageColumn, at, checkObjectMeta, nameColumn, objectSchema, type ResourceDef } from './resource.js';

/** `app=web,tier in (a,b)` or `<none>`, as kubectl's POD-SELECTOR column shows it. */
function selectorText(sel: unknown): string {
  if (!isRecord(sel)) return '<none>';
  const parts: string[] = [];
  for (const [k, v] of Object.entries(isRecord(sel['matchLabels']) ? sel['matchLabels'] : {})) parts.push(`${k}=${String(v)}`);
  for (const e of Array.isArray(sel['matchExpressions']) ? sel['matchExpressions'] : []) {
    if (!isRecord(e)) continue;
    const values = Array.isArray(e['values']) ? e['values'].join(',') : '';
    const op = String(e['operator']);
    parts.push(op === 'Exists' ? String(e['key']) : op === 'DoesNotExist' ? `!${String(e['key'])}` : `${String(e['key'])} ${op.toLowerCase()} (${values})`);
  }
  return parts.length > 0 ? parts.join(',') : '<none>';
}

/** kube-apiserver's defaults: policyTypes from the rules, each port's protocol TCP. */
function defaultSpec(o: KubeObject): void {
  const spec = networkPolicySpecSchema.safeParse(o['spec'] ?? {});
  if (!spec.success) return;
  defaultNetworkPolicySpec(spec.data);
  o['spec'] = spec.data;
}

export const networkPolicies: ResourceDef = {
  group: 'networking.k8s.io', version: 'v1', kind: 'NetworkPolicy', plural: 'networkpolicies', singular: 'networkpolicy', namespaced: true,
  shortNames: ['netpol'], categories: [], subresources: [],
  schema: objectSchema({ spec: networkPolicySpecSchema.optional(), status: z.unknown().optional() }),
  prepareForCreate: defaultSpec,
  prepareForUpdate: defaultSpec,
  validate: (o: KubeObject): FieldError[] => {
    const errs = checkObjectMeta(o);
    // A policy without a spec is kube's zero value: it selects every pod of its namespace for Ingress (defaulted above).
    const spec = networkPolicySpecSchema.safeParse(at(o, 'spec') ?? {});
    if (spec.success) errs.push(...checkNetworkPolicySpec(spec.data));
    return errs;
  },
  columns: [
    nameColumn,
    { name: 'Pod-Selector', type: 'string', priority: 0, description: 'Selects the pods to which this NetworkPolicy object applies.', cell: (o) => selectorText(at(o, 'spec', 'podSelector')) },
    ageColumn,
  ],
  hasStatus: false,
};
