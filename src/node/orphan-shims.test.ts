import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger, nullSink } from '../log.js';
import { ORPHAN_MS, OrphanShims, removedDirectory, runcStateDir, upstreamShimDaemon, type IdleShim } from './orphan-shims.js';

const SOCK = '/run/sandpod/sockets/n0.sock';

test('upstream shim daemons are told from their start and delete calls and from Sandpod\'s shim', () => {
  assert.deepEqual(upstreamShimDaemon(['/usr/bin/containerd-shim-runc-v2', '-namespace', 'k8s.io', '-id', 'abc', '-address', SOCK]), { id: 'abc', address: SOCK });
  assert.deepEqual(upstreamShimDaemon(['/usr/bin/containerd-shim-runc-v2', '-namespace', 'k8s.io', '-id', 'abc', '-address', `unix://${SOCK}`]), { id: 'abc', address: SOCK });
  assert.equal(upstreamShimDaemon(['/usr/bin/containerd-shim-runc-v2', '-namespace', 'k8s.io', '-id', 'abc', '-address', SOCK, 'start']), undefined);
  assert.equal(upstreamShimDaemon(['/usr/bin/containerd-shim-runc-v2', '-namespace', 'k8s.io', '-id', 'abc', '-address', SOCK, 'delete']), undefined);
  assert.equal(upstreamShimDaemon(['/opt/bin/containerd-shim-sandpod-v2', '-namespace', 'k8s.io', '-id', 'abc', '-address', SOCK]), undefined);
  assert.equal(upstreamShimDaemon(['/usr/bin/containerd', '--config', 'x']), undefined);
});

function harness(): { reaper: OrphanShims; shims: IdleShim[]; known: Set<string>; ended: number[]; clock: { t: number } } {
  const state = { shims: [] as IdleShim[], known: new Set<string>(), ended: [] as number[], clock: { t: 0 } };
  const reaper = new OrphanShims({
    idleShims: async () => [...state.shims], sandboxIds: async () => new Set(state.known),
    end: async (s) => { state.ended.push(s.pid); state.shims = state.shims.filter((x) => x.pid !== s.pid); },
    now: () => state.clock.t, log: createLogger('test', nullSink),
  });
  return Object.assign(state, { reaper });
}

test('a shim CRI does not know is ended only after it has looked orphaned for ORPHAN_MS over two looks', async () => {
  const h = harness();
  h.shims.push({ pid: 10, id: 'lost', bundle: '/b/lost' });
  assert.deepEqual(await h.reaper.check(), [], 'first look: only suspected');
  h.clock.t = ORPHAN_MS - 1;
  assert.deepEqual(await h.reaper.check(), [], 'not long enough');
  h.clock.t = ORPHAN_MS;
  assert.deepEqual(await h.reaper.check(), [10]);
  assert.deepEqual(h.ended, [10]);
});

test('a sandbox CRI comes to know, a shim that goes, or a PID reused for another sandbox starts the wait again', async () => {
  const h = harness();
  h.shims.push({ pid: 10, id: 'starting', bundle: '/b/s' }, { pid: 11, id: 'goes', bundle: '/b/g' });
  await h.reaper.check();
  h.known.add('starting');
  h.shims = h.shims.filter((s) => s.pid !== 11);
  h.clock.t = ORPHAN_MS;
  assert.deepEqual(await h.reaper.check(), [], 'known now, or gone');
  h.known.delete('starting');
  h.shims.push({ pid: 11, id: 'other', bundle: '/b/o' });
  h.clock.t = 2 * ORPHAN_MS;
  assert.deepEqual(await h.reaper.check(), [], 'both are new suspects');
  h.clock.t = 3 * ORPHAN_MS;
  assert.deepEqual((await h.reaper.check()).sort(), [10, 11]);
});

test('a shim that cannot be ended is tried again at the next look', async () => {
  const h = harness();
  let fail = true;
  const reaper = new OrphanShims({
    idleShims: async () => [{ pid: 10, id: 'lost', bundle: '/b' }], sandboxIds: async () => new Set(),
    end: async () => { if (fail) throw new Error('EPERM'); }, now: () => h.clock.t, log: createLogger('test', nullSink),
  });
  await reaper.check();
  h.clock.t = ORPHAN_MS;
  assert.deepEqual(await reaper.check(), []);
  fail = false;
  h.clock.t = ORPHAN_MS + 1;
  assert.deepEqual(await reaper.check(), [10]);
});

test('a shim whose bundle containerd removed is told by its working directory', () => {
  assert.equal(removedDirectory('/run/c/io.containerd.runtime.v2.task/k8s.io/abc (deleted)'), '/run/c/io.containerd.runtime.v2.task/k8s.io/abc');
  assert.equal(removedDirectory('/run/c/io.containerd.runtime.v2.task/k8s.io/abc'), undefined);
});

test('a runc init left by a lost shim names its state directory in its environment', () => {
  assert.equal(runcStateDir('PATH=/bin\0_LIBCONTAINER_INITPIPE=3\0_LIBCONTAINER_STATEDIR=/r/runc/k8s.io/abc\0_LIBCONTAINER_FIFOFD=5\0'), '/r/runc/k8s.io/abc');
  assert.equal(runcStateDir('PATH=/bin\0HOME=/root\0'), undefined);
  assert.equal(runcStateDir('_LIBCONTAINER_STATEDIR=\0'), undefined);
});
