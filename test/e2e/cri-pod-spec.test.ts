/**
 * What a pod's containers ask of the runtime, through containerd's CRI, for sandpod-vm pods (and runc where the
 * same request must keep working there).
 */
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { criTestContext, createTestContainer, runTestPod, waitContainerState } from './cri-helpers.js';
import { processesWhere, shimEnvironment } from './helpers.js';
import { waitUntil } from '../../src/wait.js';

const roots = mkdtempSync(join(tmpdir(), 'sandpod-e2e-pod-spec-roots-'));
const env: NodeJS.ProcessEnv = {};
before(async () => { Object.assign(env, await shimEnvironment(roots)); });
const ctx = criTestContext('pod-spec', { env });
after(() => rm(roots, { recursive: true, force: true }));

/**
 * containerd runs `containerd-shim-sandpod-v2 delete` for a task whose connection closed, in the background
 * after RemoveContainer: waits until it has logged that and no such process for `id` runs any more.
 */
async function shimDeleteRan(id: string): Promise<void> {
  const log = join(ctx.containerd.base, 'containerd.log');
  await waitUntil(async () => {
    const logged = (await readFile(log, 'utf8')).split('\n').some((l) => l.includes('cleaning up after shim disconnected') && l.includes(id));
    const running = await processesWhere((cmd) => cmd.includes('containerd-shim-sandpod-v2') && cmd.includes(`\0${id}\0`) && cmd.endsWith('\0delete\0'));
    return logged && running.length === 0 ? true : undefined;
  }, { timeoutMs: 20_000, intervalMs: 100, onTimeout: () => new Error(`containerd did not run the shim's delete for ${id} (see ${log})`) });
}

test('a VM pod outlives its init container: A runs, exits, is stopped and removed, then B starts in the same VM', async () => {
  const pod = await runTestPod(ctx, 'initflow', 'sandpod-vm');
  const a = await createTestContainer(ctx, pod, { name: 'init', command: ['sh', '-c', 'echo init done'] });
  await ctx.cri.startContainer({ container_id: a });
  assert.equal((await waitContainerState(ctx.cri, a, ['CONTAINER_EXITED'])).exit_code, 0);
  await ctx.cri.stopContainer({ container_id: a, timeout: 2 });
  await ctx.cri.removeContainer({ container_id: a });
  await shimDeleteRan(a);
  const b = await createTestContainer(ctx, pod, { name: 'app', command: ['sleep', '1000'] });
  await ctx.cri.startContainer({ container_id: b });
  await waitContainerState(ctx.cri, b, ['CONTAINER_RUNNING']);
  const r = await ctx.cri.execSync({ container_id: b, cmd: ['echo', 'alive'], timeout: 30 });
  assert.equal(r.stdout.toString(), 'alive\n');
});
