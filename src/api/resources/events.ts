/**
 * core/v1 Event: what the scheduler and nodes report about objects; `kubectl describe` lists them. Every Event
 * expires an hour after its last write (kube-apiserver's --event-ttl), through an etcd lease.
 */
import { z } from 'zod';
import { required, type FieldError, type KubeObject } from '../../kube/index.js';
import { ageOf, at, checkObjectMeta, objectSchema, selectable, str, type ResourceDef } from './resource.js';

// kube-apiserver's printEvent: a series says when the event was last seen and how often; then lastTimestamp and count.
const lastSeen = (o: KubeObject): unknown =>
  at(o, 'series', 'lastObservedTime') ?? at(o, 'lastTimestamp') ?? at(o, 'firstTimestamp') ?? at(o, 'eventTime') ?? o.metadata.creationTimestamp;
const count = (o: KubeObject): number => {
  const n = at(o, 'series', 'count') ?? at(o, 'count');
  return typeof n === 'number' && n > 0 ? n : 1;
};

export const events: ResourceDef = {
  group: '', version: 'v1', kind: 'Event', plural: 'events', singular: 'event', namespaced: true,
  shortNames: ['ev'], categories: [],
  subresources: [],
  schema: objectSchema({
    involvedObject: z.strictObject({
      kind: z.string().optional(), namespace: z.string().optional(), name: z.string().optional(), uid: z.string().optional(),
      apiVersion: z.string().optional(), resourceVersion: z.string().optional(), fieldPath: z.string().optional(),
    }),
    reason: z.string().optional(), message: z.string().optional(),
    source: z.strictObject({ component: z.string().optional(), host: z.string().optional() }).optional(),
    firstTimestamp: z.string().nullable().optional(), lastTimestamp: z.string().nullable().optional(),
    count: z.number().int().optional(), type: z.string().optional(), eventTime: z.string().nullable().optional(),
    series: z.strictObject({ count: z.number().int().optional(), lastObservedTime: z.string().optional(), state: z.string().optional() }).nullable().optional(),
    action: z.string().optional(), related: z.unknown().optional(),
    reportingComponent: z.string().optional(), reportingInstance: z.string().optional(),
  }),
  validate: (o): FieldError[] => [...checkObjectMeta(o), ...(at(o, 'involvedObject') === undefined ? [required('involvedObject')] : [])],
  columns: [
    { name: 'Last Seen', type: 'string', priority: 0, description: 'Time when this Event was last observed.', cell: (o, now) => ageOf(lastSeen(o), now) },
    { name: 'Type', type: 'string', priority: 0, description: 'Type of this event (Normal, Warning).', cell: (o) => str(at(o, 'type')) },
    { name: 'Reason', type: 'string', priority: 0, description: 'Short, machine understandable string that gives the reason for this event.', cell: (o) => str(at(o, 'reason')) },
    {
      name: 'Object', type: 'string', priority: 0, description: 'The object that this event is about.',
      cell: (o) => `${str(at(o, 'involvedObject', 'kind')).toLowerCase()}/${str(at(o, 'involvedObject', 'name'))}`,
    },
    { name: 'Subobject', type: 'string', priority: 1, description: 'The subobject the event is about.', cell: (o) => str(at(o, 'involvedObject', 'fieldPath')) },
    {
      name: 'Source', type: 'string', priority: 1, description: 'The component reporting this event.',
      cell: (o) => [str(at(o, 'source', 'component')), str(at(o, 'source', 'host'))].filter((s) => s).join(', '),
    },
    { name: 'Message', type: 'string', priority: 0, description: 'A human-readable description of the status of this operation.', cell: (o) => str(at(o, 'message')) },
    { name: 'First Seen', type: 'string', priority: 1, description: 'The time at which the event was first recorded.', cell: (o, now) => ageOf(at(o, 'firstTimestamp') ?? o.metadata.creationTimestamp, now) },
    { name: 'Count', type: 'string', priority: 1, description: 'The number of times this event has occurred.', cell: (o) => String(count(o)) },
    { name: 'Name', type: 'string', priority: 1, description: 'The name of the event.', cell: (o) => o.metadata.name ?? '' },
  ],
  fields: (o) => ({
    ...selectable(o, ['involvedObject.kind', 'involvedObject.namespace', 'involvedObject.name', 'involvedObject.uid',
      'involvedObject.apiVersion', 'involvedObject.resourceVersion', 'involvedObject.fieldPath', 'reason', 'type']),
    source: str(at(o, 'source', 'component')),
  }),
  ttlSeconds: 3600,
  hasStatus: false,
};
