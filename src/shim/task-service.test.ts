import { test } from 'node:test';
import assert from 'node:assert/strict';
import { processSpec } from './task-service.js';

test('a process\'s capabilities: the spec\'s bounding set; none when the spec has empty (omitted) sets; all without capabilities', () => {
  const base = { args: ['sh'], cwd: '/' };
  assert.deepEqual(processSpec({ ...base, capabilities: { bounding: ['CAP_CHOWN'], effective: ['CAP_CHOWN'] } }, false, 'c', true).capabilities, ['CAP_CHOWN']);
  assert.deepEqual(processSpec({ ...base, capabilities: {} }, false, 'c', true).capabilities, [], 'drop ALL: containerd writes capabilities: {}');
  assert.equal(processSpec(base, false, 'c', true).capabilities, undefined);
});
