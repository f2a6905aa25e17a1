import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadProto, decodeMessage, encodeMessage } from '../ttrpc/index.js';

const root = loadProto('./task.proto', import.meta.url);
const t = (name: string) => root.lookupType(`containerd.task.v2.${name}`);

test('the task contract encodes with containerd field numbers', () => {
  // CreateTaskRequest{id=1:"c1", rootfs=3:[Mount{type=1:"overlay"}], terminal=4:true}: hand-assembled wire bytes.
  const wire = Buffer.from([0x0a, 0x02, 0x63, 0x31, 0x1a, 0x09, 0x0a, 0x07, ...Buffer.from('overlay'), 0x20, 0x01]);
  const decoded = decodeMessage<{ id: string; rootfs: { type: string }[]; terminal: boolean }>(t('CreateTaskRequest'), wire);
  assert.equal(decoded.id, 'c1');
  assert.equal(decoded.rootfs[0]?.type, 'overlay');
  assert.equal(decoded.terminal, true);
  // WaitResponse{exit_status=1: 137, exited_at=2: {seconds=1: 5}}.
  const wait = Buffer.from(encodeMessage(t('WaitResponse'), { exit_status: 137, exited_at: { seconds: 5 } }));
  assert.deepEqual([...wait], [0x08, 0x89, 0x01, 0x12, 0x02, 0x08, 0x05]);
  const exit = decodeMessage<{ exit_status: number; exited_at: { seconds: number } }>(t('WaitResponse'), wait);
  assert.equal(exit.exit_status, 137);
  assert.equal(exit.exited_at.seconds, 5);
});

test('every task service method has its request type', () => {
  for (const name of ['CreateTaskRequest', 'StartRequest', 'StateRequest', 'WaitRequest', 'KillRequest', 'ExecProcessRequest',
    'ResizePtyRequest', 'CloseIORequest', 'PidsRequest', 'StatsRequest', 'UpdateTaskRequest', 'DeleteRequest', 'ConnectRequest',
    'ShutdownRequest', 'PauseRequest', 'ResumeRequest', 'CheckpointTaskRequest', 'ForwardRequest']) {
    assert.ok(t(name), name);
  }
});
