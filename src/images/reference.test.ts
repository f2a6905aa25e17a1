import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSandpodError } from '../errors.js';
import { canonicalReference, parseImageReference } from './reference.js';

test('references normalise like containerd reads them', () => {
  const cases: [string, string, string][] = [
    ['busybox', 'docker.io/library/busybox:latest', 'library/busybox'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36', 'library/busybox'],
    ['docker.io/busybox', 'docker.io/library/busybox:latest', 'library/busybox'],
    ['index.docker.io/library/busybox', 'docker.io/library/busybox:latest', 'library/busybox'],
    ['me/app:v2', 'docker.io/me/app:v2', 'me/app'],
    ['sandpod.local/pause:3.9', 'sandpod.local/pause:3.9', 'pause'],
    ['sandpod.local/tools/stress', 'sandpod.local/tools/stress:latest', 'tools/stress'],
    ['localhost/app', 'localhost/app:latest', 'app'],
    ['127.0.0.1:5000/x/y:z', '127.0.0.1:5000/x/y:z', 'x/y'],
  ];
  for (const [ref, canonical, repository] of cases) {
    const parsed = parseImageReference(ref);
    assert.equal(canonicalReference(parsed), canonical, ref);
    assert.equal(parsed.repository, repository, ref);
  }
  const digest = `sha256:${'a'.repeat(64)}`;
  assert.deepEqual(parseImageReference(`busybox@${digest}`), { domain: 'docker.io', repository: 'library/busybox', tag: undefined, digest });
  assert.equal(canonicalReference(parseImageReference(`busybox:1@${digest}`)), `docker.io/library/busybox:1@${digest}`);
});

test('malformed references are Invalid and say what is wrong', () => {
  const cases: [string, RegExp][] = [
    ['', /repository/],
    ['BusyBox', /lowercase/],
    ['busybox:', /tag/],
    ['busybox:bad tag', /tag/],
    ['busybox@sha256:123', /digest/],
    ['a//b', /repository/],
    ['sandpod.local/', /repository/],
    ['-bad.host:x/app', /host/],
  ];
  for (const [ref, message] of cases) {
    assert.throws(() => parseImageReference(ref), (err) => isSandpodError(err, 'Invalid') && message.test(err.message), JSON.stringify(ref));
  }
});
