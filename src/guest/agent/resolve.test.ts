import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, writeFile, symlink, rm, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findExecutable, isDirectoryInRoot, resolveInRoot } from './resolve.js';

test('executables are found on PATH inside the root, following absolute links within it', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'resolve-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  await mkdir(join(root, 'bin'));
  await mkdir(join(root, 'usr/bin'), { recursive: true });
  await writeFile(join(root, 'bin/busybox'), '');
  await chmod(join(root, 'bin/busybox'), 0o755);
  await symlink('/bin/busybox', join(root, 'bin/sh'));
  await symlink('/etc/passwd', join(root, 'bin/escape'));
  await writeFile(join(root, 'usr/bin/data'), '');
  assert.equal(await findExecutable(root, 'sh', '/usr/bin:/bin'), '/bin/sh');
  assert.equal(await findExecutable(root, '/bin/sh', ''), '/bin/sh');
  assert.equal(await findExecutable(root, 'data', '/usr/bin:/bin'), undefined, 'not executable');
  assert.equal(await findExecutable(root, 'escape', '/bin'), undefined, 'an absolute link resolves inside the root');
  assert.equal(await findExecutable(root, 'nope', '/usr/bin:/bin'), undefined);
  assert.equal(await resolveInRoot(root, '/bin/../../../bin/sh'), join(root, 'bin/busybox'));
  assert.equal(await isDirectoryInRoot(root, '/usr/bin'), true);
  assert.equal(await isDirectoryInRoot(root, '/bin/busybox'), false);
});
