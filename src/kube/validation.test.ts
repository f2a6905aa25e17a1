import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError, required, invalidValue, fieldPath, checkConfigKey, checkDns1123Subdomain, checkDns1123Label, checkLabels, tooLong } from './validation.js';

test('messages follow kube-apiserver', () => {
  const one = new ValidationError('Pod', 'x', [required('spec.containers[0].image')]);
  assert.equal(one.message, 'Pod "x" is invalid: spec.containers[0].image: Required value');
  const two = new ValidationError('Pod', 'x', [required('a'), invalidValue('b', -1, 'must be positive')]);
  assert.equal(two.message, 'Pod "x" is invalid: [a: Required value, b: Invalid value: -1: must be positive]');
});

test('field paths and names', () => {
  assert.equal(fieldPath(['spec', 'containers', 0, 'image']), 'spec.containers[0].image');
  assert.equal(checkDns1123Subdomain('web-1.example'), undefined);
  assert.match(checkDns1123Subdomain('Bad_Name') ?? '', /RFC 1123 subdomain/);
  assert.match(checkDns1123Label('a.b') ?? '', /RFC 1123 label/);
  assert.equal(checkLabels({ 'app.kubernetes.io/name': 'web' }, 'metadata.labels').length, 0);
  assert.equal(checkLabels({ app: 'bad value' }, 'metadata.labels').length, 1);
});

test('config keys and sizes, as kube words them', () => {
  assert.deepEqual(checkConfigKey('app.properties'), []);
  assert.deepEqual(checkConfigKey('..data'), ["must not start with '..'"]);
  assert.equal(checkConfigKey('a:b').length, 1);
  assert.equal(checkConfigKey(`${'a'.repeat(254)}/`).length, 2);
  assert.equal(new ValidationError('Secret', 's', [tooLong('data', 1048576)]).message, 'Secret "s" is invalid: data: Too long: may not be more than 1048576 bytes');
});

test('a value or name of megabytes is cut in the message, which says how long it was', () => {
  const big = 'a'.repeat(2_000_000);
  const err = new ValidationError('Pod', big, [invalidValue('metadata.labels.big', big, 'must be no more than 63 characters')]);
  assert.ok(err.message.length < 3000, `the message is ${err.message.length} characters`);
  assert.match(err.message, /^Pod "a+\.\.\. \(2000000 characters in all\)" is invalid: metadata\.labels\.big: Invalid value: "a+\.\.\. \(2000002 characters in all\): must be/);
});
