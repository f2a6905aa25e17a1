import { test } from 'node:test';
import assert from 'node:assert/strict';
import { translateStatus } from './session.js';

const object = 'container "c" of pod ns/p';

test('the runtime\'s v4 status becomes the v5 status kubectl reads', () => {
  assert.deepEqual(translateStatus(Buffer.from('{"metadata":{},"status":"Success"}'), object), { metadata: {}, status: 'Success' });
  const exit = translateStatus(Buffer.from(JSON.stringify({
    metadata: {}, status: 'Failure', reason: 'NonZeroExitCode', message: 'command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3',
    details: { causes: [{ reason: 'ExitCode', message: '3' }] },
  })), object);
  assert.deepEqual(exit, { metadata: {}, status: 'Failure', reason: 'NonZeroExitCode', message: 'command terminated with non-zero exit code: 3', details: { causes: [{ reason: 'ExitCode', message: '3' }] } });
});

test('other failures keep their reason and name the container', () => {
  const internal = translateStatus(Buffer.from('{"metadata":{},"status":"Failure","message":"error executing command: no such file","reason":"InternalError","code":500}'), object);
  assert.deepEqual(internal, { metadata: {}, status: 'Failure', reason: 'InternalError', message: `${object}: error executing command: no such file`, code: 500 });
  assert.match(String(translateStatus(Buffer.alloc(0), object)['message']), /ended the session without an exit status/);
  assert.match(String(translateStatus(Buffer.from('plain text from an old server'), object)['message']), /: plain text from an old server$/);
});
