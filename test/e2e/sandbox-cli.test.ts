/**
 * Issue acceptance for the VM sandbox runtime, through the real CLI, real QEMU and the Debian guest kernel.
 * VMs are few and shared: one per behaviour that needs a fresh boot, one long-lived sandbox for the rest.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { release } from 'node:os';
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import * as pty from 'node-pty';
import { waitUntil } from '../../src/wait.js';
import { leftovers, qemuProcessesUnder, sandboxTestContext, sandpod, sandpodBin } from './helpers.js';

const ctx = sandboxTestContext('cli');

test('a sandbox runs on its own kernel with the vCPUs and memory asked for, and sees none of the host', async (t) => {
  const { roots, rootfs } = ctx;
  const secret = `host-only-${randomBytes(4).toString('hex')}`;
  await writeFile(join(roots.base, secret), 'x');
  // A host process whose command line carries the marker: the guest must not see it.
  const hostProc = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 120000)', secret], { stdio: 'ignore' });
  t.after(() => { hostProc.kill('SIGKILL'); });
  const script = [
    'uname -r; nproc; grep MemTotal /proc/meminfo',
    'echo "NET: $(ls /sys/class/net | tr "\\n" " ")"',
    // The marker is assembled at run time so that this script's own command line does not contain it.
    `a=host-only-; b=${secret.slice('host-only-'.length)}`,
    'echo "FILES: $(find / -xdev -name "$a$b*" 2>/dev/null | wc -l)"',
    // "[-]" keeps grep's own command line from matching.
    'echo "PROCS: $(cat /proc/[0-9]*/cmdline 2>/dev/null | tr "\\0" " " | grep -c "host-only[-]$b")"',
  ].join('; ');
  const r = await sandpod(['sandbox', 'run', '--cpus', '2', '--memory', '256Mi', '--rootfs', rootfs, '--', 'sh', '-c', script], roots.env);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.notEqual(lines[0], release(), 'the guest kernel release must differ from the host');
  assert.match(lines[0] ?? '', /^\d+\.\d+\.\d+/);
  assert.equal(lines[1], '2');
  const memKiB = Number(/MemTotal:\s+(\d+) kB/.exec(lines[2] ?? '')?.[1]);
  assert.ok(memKiB > 200 * 1024 && memKiB <= 256 * 1024, `MemTotal ${memKiB} kB is not within 200-256 MiB`);
  assert.equal(lines[3]?.trim(), 'NET: lo', 'only a loopback interface inside');
  assert.equal(lines[4], 'FILES: 0', 'a host file outside the rootfs is not visible');
  assert.equal(lines[5], 'PROCS: 0', 'no host process (one carries the marker) is visible');
});

test('exit codes come back, and stdin reaches the process with EOF', async () => {
  const { roots, rootfs } = ctx;
  const r = await sandpod(['sandbox', 'run', '--memory', '256Mi', '--rootfs', rootfs, '--', 'sh', '-c', 'read line; echo "got $line"; cat; exit 7'], roots.env, 'hi\nthere\n');
  assert.equal(r.code, 7, r.stderr);
  assert.equal(r.stdout, 'got hi\nthere\n');
});

test('bad input fails clearly, with a non-zero exit and nothing left running', async () => {
  const { roots, rootfs } = ctx;
  const missing = await sandpod(['sandbox', 'run', '--rootfs', join(roots.base, 'nope'), '--', 'true'], roots.env);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /rootfs .*nope does not exist/);

  const small = await sandpod(['sandbox', 'run', '--memory', '16Mi', '--rootfs', rootfs, '--', 'true'], roots.env);
  assert.equal(small.code, 1);
  assert.match(small.stderr, /too small to boot.*at least 128Mi/);

  const flag = await sandpod(['sandbox', 'run', '--bogus', '--rootfs', rootfs, '--', 'true'], roots.env);
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /Unknown option '--bogus'/);

  const slow = await sandpod(['sandbox', 'run', '--boot-timeout', '0.5', '--rootfs', rootfs, '--', 'true'], roots.env);
  assert.equal(slow.code, 1);
  assert.match(slow.stderr, /sandbox\/[0-9a-f]+: the guest agent did not become ready within 0.5 s/);
  assert.deepEqual(await qemuProcessesUnder(roots.run), []);
});

test('a long-lived sandbox: exec, a terminal, signals, a missing command, ls and rm', async () => {
  const { roots, rootfs } = ctx;
  const created = await sandpod(['sandbox', 'create', '--name', 'lived', '--memory', '256Mi', '--rootfs', rootfs, '--', 'sh', '-c', 'echo main-started; exec sleep 1000'], roots.env);
  assert.equal(created.code, 0, created.stderr);
  assert.equal(created.stdout.trim(), 'lived');

  const ls = await sandpod(['sandbox', 'ls'], roots.env);
  assert.match(ls.stdout, /^lived\s+running\s+1\s+256Mi/m);

  const exec = await sandpod(['sandbox', 'exec', 'lived', '--', 'sh', '-c', 'cat /proc/1/cmdline | tr "\\0" " "; exit 5'], roots.env);
  assert.equal(exec.code, 5, exec.stderr);

  const notFound = await sandpod(['sandbox', 'exec', 'lived', '--', 'no-such-command'], roots.env);
  assert.equal(notFound.code, 1);
  assert.match(notFound.stderr, /sandbox\/lived: executable "no-such-command" not found in the sandbox rootfs/);

  // A terminal: the real CLI under a pty, typing into an interactive shell.
  const term = pty.spawn(sandpodBin, ['sandbox', 'exec', '-t', 'lived', '--', 'sh'], { cols: 100, rows: 30, env: roots.env as Record<string, string> });
  let screen = '';
  term.onData((d) => { screen += d; });
  const exited = new Promise<number>((resolve) => term.onExit((e) => resolve(e.exitCode)));
  const until = (re: RegExp): Promise<true> => waitUntil(() => (re.test(screen) ? true : undefined), { timeoutMs: 30_000, onTimeout: () => new Error(`terminal never showed ${re}: ${JSON.stringify(screen)}`) });
  term.write('tty; stty size; echo $((6*7))\r');
  await until(/\/dev\/pts\/\d+/);
  await until(/30 100/);
  // Node's raw mode keeps output CR-LF translation, so lines may end in \r\r\n.
  await until(/\n42\r*\n/);
  term.resize(120, 40);
  term.write('stty size\r');
  await until(/40 120/);
  term.write('exit 4\r');
  assert.equal(await exited, 4);

  const kill = await sandpod(['sandbox', 'kill', '-s', 'TERM', 'lived'], roots.env);
  assert.equal(kill.code, 0, kill.stderr);
  await waitUntil(async () => ((await sandpod(['sandbox', 'ls'], roots.env)).stdout.includes('exited (SIGTERM)') ? true : undefined),
    { timeoutMs: 10_000, onTimeout: () => new Error('the main process did not end on SIGTERM') });

  const rm = await sandpod(['sandbox', 'rm', 'lived'], roots.env);
  assert.equal(rm.code, 0, rm.stderr);
  assert.equal((await sandpod(['sandbox', 'ls'], roots.env)).stdout.trim().split('\n').length, 1, 'only the header is left');
  assert.deepEqual(await leftovers(roots), []);
});

test('a sandbox whose QEMU dies is reported as such and cleaned up by rm', async () => {
  const { roots, rootfs } = ctx;
  const created = await sandpod(['sandbox', 'create', '--name', 'doomed', '--memory', '256Mi', '--rootfs', rootfs, '--', 'sleep', '1000'], roots.env);
  assert.equal(created.code, 0, created.stderr);
  const running = sandpod(['sandbox', 'exec', 'doomed', '--', 'sleep', '1000'], roots.env);
  await new Promise((r) => setTimeout(r, 1500));
  const [qemu] = await qemuProcessesUnder(roots.run);
  assert.ok(qemu, 'the sandbox has a QEMU process');
  process.kill(qemu, 'SIGKILL');
  const r = await running;
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /sandbox\/doomed/);
  await waitUntil(async () => ((await sandpod(['sandbox', 'ls'], roots.env)).stdout.match(/^doomed\s+(dead|exited)/m) ? true : undefined),
    { timeoutMs: 10_000, onTimeout: () => new Error('the sandbox is still listed as running') });
  assert.equal((await sandpod(['sandbox', 'rm', 'doomed'], roots.env)).code, 0);
  assert.deepEqual(await leftovers(roots), []);
});
