import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SandpodError, type ErrorKind } from '../errors.js';
import { kindOfStatus, statusOfError } from './status.js';
import { required, ValidationError } from './validation.js';

const kinds: ErrorKind[] = [
  'NotFound', 'AlreadyExists', 'Conflict', 'Invalid', 'Unauthorized', 'Forbidden', 'Expired', 'TooLarge', 'UnsupportedMediaType',
  'NotImplemented', 'Unavailable', 'BadGateway', 'Timeout', 'Internal',
];

test('every kind survives the trip to a Status and back (FailedPrecondition is a 400, read back as Invalid)', () => {
  for (const kind of kinds) {
    const status = statusOfError(new SandpodError(kind, `m ${kind}`));
    assert.equal(status.kind, 'Status');
    assert.equal(status.status, 'Failure');
    assert.equal(status.message, `m ${kind}`);
    assert.equal(kindOfStatus(status), kind, `${kind} → ${status.code} ${status.reason ?? ''}`);
  }
  assert.deepEqual(
    [statusOfError(new SandpodError('FailedPrecondition', 'x')).code, kindOfStatus(statusOfError(new SandpodError('FailedPrecondition', 'x')))],
    [400, 'Invalid'],
  );
});

test('kube codes and reasons: 422 Invalid when fields are named, 400 BadRequest otherwise, 410 Expired, 413, 415, 405', () => {
  const invalid = statusOfError(new ValidationError('Pod', 'p', [required('spec.containers')]));
  assert.deepEqual([invalid.code, invalid.reason, invalid.details?.causes], [422, 'Invalid', [{ reason: 'FieldValueRequired', message: 'Required value', field: 'spec.containers' }]]);
  assert.equal(invalid.message, 'Pod "p" is invalid: spec.containers: Required value');
  assert.deepEqual([statusOfError(new SandpodError('Invalid', 'bad')).code, statusOfError(new SandpodError('Invalid', 'bad')).reason], [400, 'BadRequest']);
  for (const [kind, code, reason] of [['Expired', 410, 'Expired'], ['TooLarge', 413, 'RequestEntityTooLarge'], ['UnsupportedMediaType', 415, 'UnsupportedMediaType'],
    ['NotImplemented', 405, 'MethodNotAllowed'], ['Unavailable', 503, 'ServiceUnavailable']] as const) {
    const s = statusOfError(new SandpodError(kind, 'x'));
    assert.deepEqual([s.code, s.reason], [code, reason], kind);
  }
});

test('a Status is read by its reason first, by its code when the reason is not one of kube\'s', () => {
  assert.equal(kindOfStatus({ code: 409, reason: 'AlreadyExists' }), 'AlreadyExists');
  assert.equal(kindOfStatus({ code: 409, reason: 'Conflict' }), 'Conflict');
  assert.equal(kindOfStatus({ code: 410, reason: 'Gone' }), 'Expired');
  assert.equal(kindOfStatus({ code: 500, reason: 'ServerTimeout' }), 'Timeout');
  assert.equal(kindOfStatus({ code: 404, reason: 'SomethingElse' }), 'NotFound');
  assert.equal(kindOfStatus({ code: 429 }), 'Unavailable');
  assert.equal(kindOfStatus({ code: 502, reason: 'InternalError' }), 'BadGateway', 'InternalError defers to the code');
  assert.equal(kindOfStatus({ code: 500, reason: 'InternalError' }), 'Internal');
  assert.equal(kindOfStatus({ code: 418 }), 'Internal');
});
