import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applySysctls, sysctlPath } from './sysctls.js';

test('sysctl names map to /proc/sys paths, dotted or with slashes', () => {
  assert.equal(sysctlPath('net.ipv4.ip_unprivileged_port_start'), 'net/ipv4/ip_unprivileged_port_start');
  assert.equal(sysctlPath('net/ipv4/conf/eth0.1/forwarding'), 'net/ipv4/conf/eth0.1/forwarding');
});

test('sysctls are written; one the kernel does not have fails, naming it', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sandpod-sysctl-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'net/core'), { recursive: true });
  await mkdir(join(dir, 'kernel'));
  await writeFile(join(dir, 'net/core/somaxconn'), '4096\n');
  await writeFile(join(dir, 'kernel/shm_rmid_forced'), '0\n');
  await applySysctls({ 'net.core.somaxconn': '1024', 'kernel.shm_rmid_forced': '1' }, dir);
  assert.equal(await readFile(join(dir, 'net/core/somaxconn'), 'utf8'), '1024');
  assert.equal(await readFile(join(dir, 'kernel/shm_rmid_forced'), 'utf8'), '1');
  await assert.rejects(applySysctls({ 'net.ipv4.no_such_knob': '1' }, dir),
    (e: Error & { kind?: string }) => e.kind === 'NotFound' && /sysctl net\.ipv4\.no_such_knob does not exist in the guest kernel/.test(e.message));
});
