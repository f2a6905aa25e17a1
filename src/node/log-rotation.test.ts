import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CriClient } from '../cri/index.js';
import { createLogger, nullSink } from '../log.js';
import { LABEL } from './cri-config.js';
import { LogRotator, removeInstanceLogs, surplusRotations } from './log-rotation.js';
import type { NodeSnapshot } from './snapshot.js';

test('rotated files beyond the limit go, oldest first', () => {
  const entries = ['0.log', '0.log.20260101T000000.000', '0.log.20260101T000100.000', '0.log.20260101T000200.000', '1.log.20260101T000000.000'];
  assert.deepEqual(surplusRotations('/d/0.log', entries, 3), ['/d/0.log.20260101T000000.000']);
  assert.deepEqual(surplusRotations('/d/0.log', entries, 5), []);
});

test('a running container\'s log past the size is renamed aside, reopened by the runtime, and bounded in count', async () => {
  const root = await mkdtemp(join(tmpdir(), 'sandpod-logs-'));
  try {
    const dir = join(root, 'ns_p_u1', 'main');
    await mkdir(dir, { recursive: true });
    const reopened: string[] = [];
    const cri = { reopenContainerLog: async (r: { container_id: string }) => { reopened.push(r.container_id); await writeFile(join(dir, '2.log'), ''); } } as unknown as CriClient;
    const rotator = new LogRotator(cri, root, createLogger('test', nullSink), 100, 3);
    const snap = (state: string): NodeSnapshot => ({
      sandboxes: [], takenAt: Date.now(),
      containers: [{ id: 'c1', metadata: { name: 'main', attempt: 2 }, state, labels: { [LABEL.podNamespace]: 'ns', [LABEL.podName]: 'p', [LABEL.podUid]: 'u1', [LABEL.containerName]: 'main' } }] as unknown as NodeSnapshot['containers'],
    });
    for (let i = 0; i < 4; i++) {
      await writeFile(join(dir, '2.log'), 'x'.repeat(200));
      await rotator.rotate(snap('CONTAINER_RUNNING'), new Date(Date.UTC(2026, 0, 1, 0, i)));
    }
    assert.deepEqual(reopened, ['c1', 'c1', 'c1', 'c1']);
    const files = (await readdir(dir)).sort();
    assert.deepEqual(files, ['2.log', '2.log.20260101T000200.000', '2.log.20260101T000300.000'], 'the live file and two rotations');
    assert.equal((await stat(join(dir, '2.log'))).size, 0);
    await writeFile(join(dir, '2.log'), 'x'.repeat(200));
    await rotator.rotate(snap('CONTAINER_EXITED'));
    assert.equal(reopened.length, 4, 'an exited container is left alone');
    await removeInstanceLogs(dir, 2);
    assert.deepEqual(await readdir(dir), []);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
