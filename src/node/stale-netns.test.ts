import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger, nullSink } from '../log.js';
import { ORPHAN_MS } from './orphan-shims.js';
import { criNetnsDir, StaleNetnsFiles } from './stale-netns.js';

test('CRI\'s own netns directory comes from its verbose status, and only with netns_mounts_under_state_dir', () => {
  const config = (c: object): Record<string, string> => ({ config: JSON.stringify(c) });
  assert.equal(criNetnsDir(config({ stateDir: '/n/state/io.containerd.grpc.v1.cri', netnsMountsUnderStateDir: true })), '/n/state/io.containerd.grpc.v1.cri/netns');
  assert.equal(criNetnsDir(config({ stateDir: '/n/state/io.containerd.grpc.v1.cri', netnsMountsUnderStateDir: false })), undefined, 'the host\'s /run/netns is not ours');
  assert.equal(criNetnsDir(config({ netnsMountsUnderStateDir: true })), undefined, 'no state directory named');
  assert.equal(criNetnsDir({}), undefined);
});

test('an unmounted cni- file is removed after ORPHAN_MS over two looks; a mounted one, another name, or one mounted meanwhile is kept', async () => {
  const dir = '/n/netns';
  const state = { t: 0, names: ['cni-stale', 'cni-used', 'cni-new', 'other'], mounts: [`${dir}/cni-used`], removed: [] as string[] };
  const sweep = new StaleNetnsFiles({
    netnsDir: async () => dir, list: async () => [...state.names], mountPoints: async () => [...state.mounts],
    remove: async (p) => { state.removed.push(p); state.names = state.names.filter((n) => `${dir}/${n}` !== p); },
    now: () => state.t, log: createLogger('test', nullSink),
  });
  assert.deepEqual(await sweep.check(), [], 'first look: only suspected');
  state.t = ORPHAN_MS - 1;
  assert.deepEqual(await sweep.check(), [], 'not long enough');
  state.mounts.push(`${dir}/cni-new`);
  state.t = ORPHAN_MS;
  assert.deepEqual(await sweep.check(), [`${dir}/cni-stale`]);
  assert.deepEqual(state.names, ['cni-used', 'cni-new', 'other']);
  state.t = 3 * ORPHAN_MS;
  assert.deepEqual(await sweep.check(), [], 'nothing else is stale');
});

test('no netns directory of its own: nothing is looked at', async () => {
  const sweep = new StaleNetnsFiles({
    netnsDir: async () => undefined, list: async () => assert.fail('not listed'), mountPoints: async () => [],
    remove: async () => assert.fail('not removed'), now: () => 0, log: createLogger('test', nullSink),
  });
  assert.deepEqual(await sweep.check(), []);
});
