import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseLabelSelector, matchesLabels, parseFieldSelector, matchesFields, labelSelectorRequirements } from './selectors.js';

test('label selector syntax', () => {
  const reqs = parseLabelSelector('app=web,tier!=db,env in (a, b),!legacy,team');
  assert.equal(reqs.length, 5);
  assert.ok(matchesLabels(reqs, { app: 'web', env: 'b', team: 'x' }));
  assert.ok(!matchesLabels(reqs, { app: 'web', env: 'c', team: 'x' }));
  assert.ok(!matchesLabels(reqs, { app: 'web', env: 'a', team: 'x', legacy: '1' }));
  assert.throws(() => parseLabelSelector('a=(b'), /unable to parse/);
});

test('matchLabels and matchExpressions', () => {
  const reqs = labelSelectorRequirements({ matchLabels: { a: '1' }, matchExpressions: [{ key: 'b', operator: 'Exists' }] });
  assert.ok(matchesLabels(reqs, { a: '1', b: '' }));
  assert.ok(!matchesLabels(reqs, { a: '1' }));
});

test('field selectors with escapes and !=', () => {
  const reqs = parseFieldSelector('involvedObject.name=a\\,b,status.phase!=Failed,spec.nodeName==n1');
  assert.deepEqual(reqs[0], { field: 'involvedObject.name', op: '=', value: 'a,b' });
  assert.ok(matchesFields(reqs, { 'involvedObject.name': 'a,b', 'status.phase': 'Running', 'spec.nodeName': 'n1' }));
  assert.ok(!matchesFields(reqs, { 'involvedObject.name': 'a,b', 'status.phase': 'Failed', 'spec.nodeName': 'n1' }));
  assert.throws(() => parseFieldSelector('nonsense'), /invalid field selector/);
});
