import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Container, PodSandbox } from '../cri/index.js';
import { loneContainers } from './snapshot.js';

test('a container whose sandbox the runtime no longer lists is lone; one of a listed sandbox is not', () => {
  const sandbox = { id: 's1' } as PodSandbox;
  const container = (id: string, sandboxId: string): Container => ({ id, pod_sandbox_id: sandboxId } as Container);
  const lone = loneContainers({ sandboxes: [sandbox], containers: [container('c1', 's1'), container('c2', 'gone')], takenAt: 1 });
  assert.deepEqual([...lone], [['c2', 'gone']]);
  assert.equal(loneContainers({ sandboxes: [], containers: [], takenAt: 1 }).size, 0);
});
