/** networking.k8s.io/v1 NetworkPolicy: stored and served; enforcement belongs to the node's network code. */
import { z } from 'zod';
import { isRecord, notSupported, required, type FieldError, type KubeObject } from '../../kube/index.js';
import { ageColumn, at, checkObjectMeta, nameColumn, objectSchema, type ResourceDef } from './resource.js';

const policyTypes = ['Ingress', 'Egress'];

const labelSelector = z.strictObject({
  matchLabels: z.record(z.string(), z.string()).nullable().optional(),
  matchExpressions: z.array(z.strictObject({ key: z.string(), operator: z.string(), values: z.array(z.string()).nullable().optional() })).nullable().optional(),
});
const peer = z.strictObject({
  podSelector: labelSelector.nullable().optional(),
  namespaceSelector: labelSelector.nullable().optional(),
  ipBlock: z.strictObject({ cidr: z.string(), except: z.array(z.string()).nullable().optional() }).nullable().optional(),
});
const port = z.strictObject({ protocol: z.string().optional(), port: z.union([z.number().int(), z.string()]).optional(), endPort: z.number().int().optional() });

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

export const networkPolicies: ResourceDef = {
  group: 'networking.k8s.io', version: 'v1', kind: 'NetworkPolicy', plural: 'networkpolicies', singular: 'networkpolicy', namespaced: true,
  shortNames: ['netpol'], categories: [], subresources: [],
  schema: objectSchema({
    spec: z.strictObject({
      podSelector: labelSelector.nullable().optional(),
      policyTypes: z.array(z.string()).nullable().optional(),
      ingress: z.array(z.strictObject({ from: z.array(peer).nullable().optional(), ports: z.array(port).nullable().optional() })).nullable().optional(),
      egress: z.array(z.strictObject({ to: z.array(peer).nullable().optional(), ports: z.array(port).nullable().optional() })).nullable().optional(),
    }).optional(),
    status: z.unknown().optional(),
  }),
  validate: (o: KubeObject): FieldError[] => {
    const errs = checkObjectMeta(o);
    if (at(o, 'spec') === undefined) errs.push(required('spec'));
    const types = at(o, 'spec', 'policyTypes');
    if (Array.isArray(types)) types.forEach((t, i) => { if (!policyTypes.includes(String(t))) errs.push(notSupported(`spec.policyTypes[${i}]`, t, policyTypes)); });
    return errs;
  },
  columns: [
    nameColumn,
    { name: 'Pod-Selector', type: 'string', priority: 0, description: 'Selects the pods to which this NetworkPolicy object applies.', cell: (o) => selectorText(at(o, 'spec', 'podSelector')) },
    ageColumn,
  ],
  hasStatus: false,
};
