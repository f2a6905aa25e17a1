import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError, type KubeObject } from '../../kube/index.js';
import { checkFields } from '../decode.js';
import { toTable } from '../table.js';
import { configMaps, validateConfigMap } from './configmaps.js';
import { statusFor } from '../status.js';

const cm = (extra: Record<string, unknown> = {}): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c1', namespace: 'default' }, ...extra });
const messages = (o: KubeObject, old?: KubeObject): string => new ValidationError('ConfigMap', 'c1', validateConfigMap(o, old)).message;

test('keys are config keys, as kube words it', () => {
  assert.deepEqual(validateConfigMap(cm({ data: { 'a.b_c-D9': 'x' }, binaryData: { 'bin.dat': 'AP8Q' } })), []);
  assert.equal(messages(cm({ data: { 'a/b': 'x' } })),
    `ConfigMap "c1" is invalid: data[a/b]: Invalid value: "a/b": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')`);
  assert.deepEqual(validateConfigMap(cm({ data: { '.': '', '..': '', '..x': '' } })).map((e) => e.detail.replace(/^Invalid value: "[^"]*": /, '')),
    ["must not be '.'", "must not be '..'", "must not start with '..'"]);
  assert.match(messages(cm({ binaryData: { ['k'.repeat(254)]: '' } })), /binaryData\[k+\]: Invalid value: "k+": must be no more than 253 characters/);
});

test('a key may not be in data and binaryData at once', () => {
  assert.equal(messages(cm({ data: { a: 'x' }, binaryData: { a: 'eA==' } })),
    'ConfigMap "c1" is invalid: data[a]: Invalid value: "a": duplicate of key present in binaryData');
});

test('the whole object holds at most 1 MiB, text and decoded bytes together', () => {
  const half = 'x'.repeat(512 * 1024);
  assert.deepEqual(validateConfigMap(cm({ data: { a: half }, binaryData: { b: Buffer.alloc(512 * 1024).toString('base64') } })), []);
  assert.equal(messages(cm({ data: { a: half, b: `${half}x` } })), 'ConfigMap "c1" is invalid: : Too long: may not be more than 1048576 bytes');
});

test('an immutable ConfigMap refuses data changes and un-freezing; metadata may change', () => {
  const old = cm({ immutable: true, data: { a: '1' } });
  assert.equal(messages(cm({ immutable: true, data: { a: '2' } }), old), 'ConfigMap "c1" is invalid: data: Forbidden: field is immutable when `immutable` is set');
  assert.equal(messages(cm({ data: { a: '1' } }), old), 'ConfigMap "c1" is invalid: immutable: Forbidden: field is immutable when `immutable` is set');
  assert.match(messages(cm({ immutable: true, data: { a: '1' }, binaryData: { b: 'eA==' } }), old), /binaryData: Forbidden: field is immutable/);
  assert.deepEqual(validateConfigMap({ ...cm({ immutable: true, data: { a: '1' } }), metadata: { name: 'c1', labels: { x: 'y' } } }, old), []);
});

test('binaryData must be base64 (400 with Go\'s offset); unknown fields are reported', () => {
  assert.throws(() => checkFields(configMaps, cm({ binaryData: { b: 'not base64' } }), 'Strict'),
    (err) => statusFor(err).code === 400
      && statusFor(err).message === 'ConfigMap in version "v1" cannot be handled as a ConfigMap: binaryData.b: illegal base64 data at input byte 3');
  assert.throws(() => checkFields(configMaps, cm({ date: {} }), 'Strict'), /strict decoding error: unknown field "date"/);
  assert.deepEqual(checkFields(configMaps, cm({ data: null, immutable: null }), 'Strict'), [], 'YAML\'s empty `data:` is accepted');
});

test('null maps are dropped before storing', () => {
  const o = cm({ data: null, binaryData: { b: 'eA==' }, immutable: null });
  configMaps.prepareForCreate?.(o);
  assert.deepEqual(o, cm({ binaryData: { b: 'eA==' } }));
});

test('the table has NAME, DATA (text and binary keys), AGE', () => {
  const table = toTable(configMaps, [{ ...cm({ data: { a: '1', b: '2' }, binaryData: { c: 'eA==' } }), metadata: { name: 'c1', creationTimestamp: '2026-01-01T00:00:00Z' } }, cm()],
    { include: 'None', now: Date.parse('2026-01-01T00:05:00Z') });
  assert.deepEqual(table.columnDefinitions.map((c) => c.name), ['Name', 'Data', 'Age']);
  assert.deepEqual(table.rows.map((r) => r.cells), [['c1', 3, '5m'], ['c1', 0, '<unknown>']]);
});
