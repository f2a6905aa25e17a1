/** core/v1 Node. Sandpod nodes advertise their node agent's streaming address in status.daemonEndpoints. */
import { z } from 'zod';
import type { KubeObject } from '../../kube/index.js';
import { ageColumn, at, checkObjectMeta, nameColumn, objectSchema, str, type ResourceDef } from './resource.js';

interface Condition { type?: string; status?: string }
interface Address { type?: string; address?: string }

function nodeStatusText(o: KubeObject): string {
  const conds = (at(o, 'status', 'conditions') ?? []) as Condition[];
  const ready = conds.find((c) => c.type === 'Ready');
  let s = ready ? (ready.status === 'True' ? 'Ready' : 'NotReady') : 'Unknown';
  if (at(o, 'spec', 'unschedulable') === true) s += ',SchedulingDisabled';
  return s;
}

function address(o: KubeObject, type: string): string {
  const a = ((at(o, 'status', 'addresses') ?? []) as Address[]).find((x) => x.type === type);
  return a?.address ?? '<none>';
}

const roles = (o: KubeObject): string => {
  const r = Object.keys(o.metadata.labels ?? {}).filter((k) => k.startsWith('node-role.kubernetes.io/')).map((k) => k.slice('node-role.kubernetes.io/'.length));
  return r.length > 0 ? r.sort().join(',') : '<none>';
};

export const nodes: ResourceDef = {
  group: '', version: 'v1', kind: 'Node', plural: 'nodes', singular: 'node', namespaced: false,
  shortNames: ['no'], categories: [],
  subresources: [{ name: 'status', kind: 'Node', verbs: ['get', 'patch', 'update'] }],
  schema: objectSchema({
    spec: z.strictObject({
      podCIDR: z.string().optional(), podCIDRs: z.array(z.string()).optional(), providerID: z.string().optional(),
      unschedulable: z.boolean().optional(),
      taints: z.array(z.strictObject({ key: z.string(), value: z.string().optional(), effect: z.string(), timeAdded: z.string().nullable().optional() })).optional(),
      configSource: z.unknown().optional(), externalID: z.string().optional(),
    }).optional(),
    status: z.unknown().optional(),
  }),
  validate: (o) => checkObjectMeta(o),
  columns: [
    nameColumn,
    { name: 'Status', type: 'string', priority: 0, description: 'The status of the node', cell: nodeStatusText },
    { name: 'Roles', type: 'string', priority: 0, description: 'The roles of the node', cell: roles },
    ageColumn,
    { name: 'Version', type: 'string', priority: 0, description: 'Kubelet Version reported by the node.', cell: (o) => str(at(o, 'status', 'nodeInfo', 'kubeletVersion')) },
    { name: 'Internal-IP', type: 'string', priority: 1, description: 'List of internal IPs.', cell: (o) => address(o, 'InternalIP') },
    { name: 'External-IP', type: 'string', priority: 1, description: 'List of external IPs.', cell: (o) => address(o, 'ExternalIP') },
    { name: 'OS-Image', type: 'string', priority: 1, description: 'OS image reported by the node.', cell: (o) => str(at(o, 'status', 'nodeInfo', 'osImage'), '<unknown>') },
    { name: 'Kernel-Version', type: 'string', priority: 1, description: 'Kernel version reported by the node.', cell: (o) => str(at(o, 'status', 'nodeInfo', 'kernelVersion'), '<unknown>') },
    { name: 'Container-Runtime', type: 'string', priority: 1, description: 'Container runtime reported by the node.', cell: (o) => str(at(o, 'status', 'nodeInfo', 'containerRuntimeVersion'), '<unknown>') },
  ],
  fields: (o) => ({ 'spec.unschedulable': String(at(o, 'spec', 'unschedulable') === true) }),
  hasStatus: true,
};
