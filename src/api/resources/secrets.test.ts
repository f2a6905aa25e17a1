import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError, type KubeObject } from '../../kube/index.js';
import { checkFields } from '../decode.js';
import { toTable } from '../table.js';
import { normalizeSecret, secrets, validateSecret } from './secrets.js';
import { statusFor } from '../status.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const secret = (extra: Record<string, unknown> = {}, annotations?: Record<string, string>): KubeObject =>
  ({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's1', ...(annotations ? { annotations } : {}) }, ...extra });
const messages = (o: KubeObject, old?: KubeObject): string => new ValidationError('Secret', 's1', validateSecret(o, old)).message;
const normalized = (o: KubeObject): KubeObject => {
  normalizeSecret(o);
  return o;
};

test('stringData is folded into data, base64-encoded, overwriting; it is never kept; type defaults to Opaque', () => {
  const o = normalized(secret({ data: { a: b64('old'), keep: b64('k') }, stringData: { a: 'new', 'pass word': 'ünï' } }));
  assert.deepEqual(o, secret({ data: { a: b64('new'), keep: b64('k'), 'pass word': b64('ünï') }, type: 'Opaque' }));
  assert.equal(normalized(secret({ type: '' }))['type'], 'Opaque', 'protobuf bodies carry an empty type');
  assert.equal(normalized(secret({ type: 'kubernetes.io/tls', data: null, stringData: null }))['type'], 'kubernetes.io/tls');
  assert.deepEqual(normalized(secret({ data: null, stringData: null, immutable: null })), secret({ type: 'Opaque' }));
});

test('keys from stringData are validated as data keys', () => {
  assert.match(messages(normalized(secret({ stringData: { 'a b': 'x' } }))), /data\[a b\]: Invalid value: "a b": a valid config key/);
});

test('the standard types require their keys', () => {
  const cases: Array<[Record<string, unknown>, Record<string, string> | undefined, string]> = [
    [{ type: 'kubernetes.io/tls', data: { 'tls.crt': b64('c') } }, undefined, 'data[tls.key]: Required value'],
    [{ type: 'kubernetes.io/tls' }, undefined, '[data[tls.crt]: Required value, data[tls.key]: Required value]'],
    [{ type: 'kubernetes.io/dockerconfigjson' }, undefined, 'data[.dockerconfigjson]: Required value'],
    [{ type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': b64('hunter2') } }, undefined,
      'data[.dockerconfigjson]: Invalid value: "<secret contents redacted>": must be a JSON object'],
    [{ type: 'kubernetes.io/dockercfg', data: { '.dockercfg': b64('[1]') } }, undefined, 'data[.dockercfg]: Invalid value: "<secret contents redacted>": must be a JSON object'],
    [{ type: 'kubernetes.io/basic-auth' }, undefined, '[data[username]: Required value, data[password]: Required value]'],
    [{ type: 'kubernetes.io/ssh-auth', data: { 'ssh-privatekey': '' } }, undefined, 'data[ssh-privatekey]: Required value'],
    [{ type: 'kubernetes.io/service-account-token' }, undefined, 'metadata.annotations[kubernetes.io/service-account.name]: Required value'],
  ];
  for (const [fields, annotations, error] of cases) assert.equal(messages(secret(fields, annotations)), `Secret "s1" is invalid: ${error}`, JSON.stringify(fields));
  const fine: Array<[Record<string, unknown>, Record<string, string> | undefined]> = [
    [{ type: 'Opaque' }, undefined],
    [{ type: 'example.com/anything' }, undefined],
    [{ type: 'kubernetes.io/tls', data: { 'tls.crt': b64('c'), 'tls.key': '' } }, undefined],
    [{ type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': b64('{"auths":{}}') } }, undefined],
    [{ type: 'kubernetes.io/basic-auth', data: { password: '' } }, undefined],
    [{ type: 'kubernetes.io/ssh-auth', data: { 'ssh-privatekey': b64('k') } }, undefined],
    [{ type: 'kubernetes.io/service-account-token' }, { 'kubernetes.io/service-account.name': 'default' }],
  ];
  for (const [fields, annotations] of fine) assert.deepEqual(validateSecret(secret(fields, annotations)), [], JSON.stringify(fields));
});

test('type is immutable; an immutable Secret keeps its data', () => {
  const old = secret({ type: 'Opaque', data: { p: b64('x') } });
  assert.equal(messages(secret({ type: 'kubernetes.io/basic-auth', data: { p: b64('x'), username: '' } }), old),
    'Secret "s1" is invalid: type: Invalid value: "kubernetes.io/basic-auth": field is immutable');
  const frozen = secret({ type: 'Opaque', immutable: true, data: { p: b64('x') } });
  assert.equal(messages(normalized(secret({ immutable: true, stringData: { p: 'y' } })), frozen),
    'Secret "s1" is invalid: data: Forbidden: field is immutable when `immutable` is set');
  assert.deepEqual(validateSecret(secret({ type: 'Opaque', immutable: true, data: { p: b64('x') } }), frozen), []);
});

test('at most 1 MiB of decoded data', () => {
  const big = Buffer.alloc(1024 * 1024).toString('base64');
  assert.deepEqual(validateSecret(secret({ type: 'Opaque', data: { a: big } })), []);
  assert.equal(messages(secret({ type: 'Opaque', data: { a: big, b: 'eA==' } })), 'Secret "s1" is invalid: data: Too long: may not be more than 1048576 bytes');
});

test('data that is not base64 is a 400 that does not repeat the value', () => {
  assert.throws(() => checkFields(secrets, secret({ data: { p: 'hunter2' } }), 'Strict'), (err) =>
    statusFor(err).code === 400 && statusFor(err).message === 'Secret in version "v1" cannot be handled as a Secret: data.p: illegal base64 data at input byte 4');
  assert.deepEqual(checkFields(secrets, secret({ stringData: { p: 'not base64 and fine' }, type: 'Opaque', immutable: false }), 'Strict'), []);
});

test('the table has NAME, TYPE, DATA, AGE; type is a selectable field', () => {
  const table = toTable(secrets, [secret({ type: 'kubernetes.io/tls', data: { 'tls.crt': '', 'tls.key': '' } })], { include: 'None' });
  assert.deepEqual(table.columnDefinitions.map((c) => c.name), ['Name', 'Type', 'Data', 'Age']);
  assert.deepEqual(table.rows[0]?.cells.slice(0, 3), ['s1', 'kubernetes.io/tls', 2]);
  assert.deepEqual(secrets.fields?.(secret({ type: 'Opaque' })), { type: 'Opaque' });
});
