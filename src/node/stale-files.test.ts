import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger, nullSink } from '../log.js';
import { ORPHAN_MS } from './orphan-shims.js';
import { runtimeDirs, StaleFiles, type StaleKind } from './stale-files.js';

test('CRI\'s netns directory (only with netns_mounts_under_state_dir) and the task bundles come from its verbose status', () => {
  const config = (c: object): Record<string, string> => ({ config: JSON.stringify(c) });
  const state = '/n/state/io.containerd.grpc.v1.cri';
  assert.deepEqual(runtimeDirs(config({ stateDir: state, netnsMountsUnderStateDir: true })),
    { netns: `${state}/netns`, bundles: '/n/state/io.containerd.runtime.v2.task/k8s.io', runc: '/run/containerd/runc/k8s.io' });
  assert.deepEqual(runtimeDirs(config({ stateDir: state, netnsMountsUnderStateDir: false, containerd: { runtimes: { runc: { options: { Root: '/n/runc' } } } } })),
    { bundles: '/n/state/io.containerd.runtime.v2.task/k8s.io', runc: '/n/runc/k8s.io' }, 'the host\'s /run/netns is not ours; runc\'s Root is the handler\'s');
  assert.equal(runtimeDirs(config({ netnsMountsUnderStateDir: true })), undefined, 'no state directory named');
  assert.equal(runtimeDirs({}), undefined);
});

function kind(state: { stale: string[]; removed: string[] }): StaleKind {
  return {
    what: 'a thing', candidates: async () => [...state.stale],
    remove: async (p) => { state.removed.push(p); state.stale = state.stale.filter((x) => x !== p); },
  };
}

test('a candidate is removed after ORPHAN_MS over two looks; one that stops looking stale meanwhile is kept', async () => {
  const clock = { t: 0 };
  const a = { stale: ['/d/old', '/d/new'], removed: [] as string[] };
  const b = { stale: ['/b/x'], removed: [] as string[] };
  const sweep = new StaleFiles([kind(a), kind(b)], () => clock.t, createLogger('test', nullSink));
  assert.deepEqual(await sweep.check(), [], 'first look: only suspected');
  clock.t = ORPHAN_MS - 1;
  assert.deepEqual(await sweep.check(), [], 'not long enough');
  a.stale = ['/d/old'];
  clock.t = ORPHAN_MS;
  assert.deepEqual(await sweep.check(), ['/d/old', '/b/x']);
  assert.deepEqual(a.removed, ['/d/old']);
  assert.deepEqual(b.removed, ['/b/x']);
  a.stale = ['/d/new'];
  clock.t = 2 * ORPHAN_MS;
  assert.deepEqual(await sweep.check(), [], '/d/new left the candidates once: its wait starts again');
});

test('one that stops looking stale between the look and the removal is kept', async () => {
  const clock = { t: 0 };
  let looks = 0;
  const removed: string[] = [];
  const flaky: StaleKind = {
    what: 'a thing', candidates: async () => (++looks <= 2 ? ['/d/busy'] : []), remove: async (p) => { removed.push(p); },
  };
  const sweep = new StaleFiles([flaky], () => clock.t, createLogger('test', nullSink));
  await sweep.check();
  clock.t = ORPHAN_MS;
  assert.deepEqual(await sweep.check(), []);
  assert.deepEqual(removed, []);
});
