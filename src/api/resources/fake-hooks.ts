/** A HookContext for strategy unit tests: objects held in memory, and what hooks asked to ensure recorded. */
import type { KubeObject } from '../../kube/index.js';
import type { HookContext, ResourceDef } from './resource.js';

export interface FakeHooks extends HookContext {
  calls: Array<{ plural: string; names: string[]; namespace: string | undefined }>;
  /** Stores an object for `find` and `listAll`. */
  put(def: ResourceDef, obj: KubeObject): void;
}

export function fakeHooks(): FakeHooks {
  const calls: FakeHooks['calls'] = [];
  const objects = new Map<string, KubeObject>();
  const key = (def: ResourceDef, name: string, namespace?: string): string => `${def.plural}/${def.namespaced ? namespace ?? '' : ''}/${name}`;
  return {
    calls,
    put: (def, obj) => objects.set(key(def, obj.metadata.name ?? '', obj.metadata.namespace), obj),
    ensure: (def, list, namespace) => {
      calls.push({ plural: def.plural, names: list.map((o) => o.metadata.name ?? ''), namespace });
      return Promise.resolve();
    },
    find: (def, name, namespace) => Promise.resolve(objects.get(key(def, name, namespace))),
    listAll: (def, namespace) => Promise.resolve([...objects.entries()]
      .filter(([k]) => k.startsWith(def.namespaced && namespace !== undefined ? `${def.plural}/${namespace}/` : `${def.plural}/`)).map(([, o]) => o)),
  };
}
