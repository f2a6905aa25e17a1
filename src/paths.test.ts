import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolvePaths, templatesDir } from './paths.js';

test('templates live in the run root unless SANDPOD_TEMPLATE_DIR or an override moves them', () => {
  assert.equal(templatesDir(resolvePaths({ runRoot: '/r' }, {})), '/r/templates');
  assert.equal(templatesDir(resolvePaths({ runRoot: '/r' }, { SANDPOD_TEMPLATE_DIR: '/t' })), '/t');
  assert.equal(templatesDir(resolvePaths({ runRoot: '/r', templatesRoot: '/o' }, { SANDPOD_TEMPLATE_DIR: '/t' })), '/o');
  assert.deepEqual(resolvePaths({}, { SANDPOD_RUN_DIR: '/x' }).templatesRoot, undefined);
});
