/**
 * containerd-shim-sandpod-v2 under a real containerd 1.6, driven by ctr: a task on the shim runs on the
 * guest kernel while the same image with runc runs on the host's; exec, signals, exit codes and stdin work;
 * nothing is left behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { busyboxImageArchive, BUSYBOX_IMAGE as IMAGE } from '../../src/images/index.js';
import { resolvePaths } from '../../src/paths.js';
import { shimTestContainerd } from './containerd.js';
import * as pty from 'node-pty';
import { waitUntil } from '../../src/wait.js';

const SHIM = ['--runtime', 'io.containerd.sandpod.v2'];

test('ctr runs tasks through the Sandpod shim in VMs, beside runc', async (t) => {
  const containerd = await shimTestContainerd(t, 'shim');
  await containerd.importImage(await busyboxImageArchive(resolvePaths()));
  const hostKernel = (await readFile('/proc/sys/kernel/osrelease', 'utf8')).trim();

  const vm = await containerd.ctr(['run', '--rm', ...SHIM, IMAGE, 'vm1', 'uname', '-r']);
  const plain = await containerd.ctr(['run', '--rm', IMAGE, 'plain1', 'uname', '-r']);
  assert.equal(plain.stdout.trim(), hostKernel, 'runc shares the host kernel');
  assert.match(vm.stdout.trim(), /^\d+\.\d+\.\d+/);
  assert.notEqual(vm.stdout.trim(), hostKernel, 'the shim runs the task on its own kernel');

  const piped = await containerd.ctr(['run', '--rm', ...SHIM, IMAGE, 'vm2', 'sh', '-c', 'cat; echo err >&2; exit 0'], 'line one\nline two\n');
  assert.equal(piped.stdout, 'line one\nline two\n');
  assert.equal(piped.stderr.trim(), 'err');
  await assert.rejects(containerd.ctr(['run', '--rm', ...SHIM, IMAGE, 'vm3', 'sh', '-c', 'exit 7']), (e: { code?: number }) => e.code === 7);

  // The task's first process is PID 1 of its own namespace (as with runc): it needs a handler to stop on TERM.
  await containerd.ctr(['run', '-d', '--memory-limit', String(200 << 20), ...SHIM, IMAGE, 'vm4', 'sh', '-c', 'trap "exit 0" TERM; sleep 1000 & wait']);
  assert.match((await containerd.ctr(['task', 'ls'])).stdout, /^vm4\s+\d+\s+RUNNING$/m);
  const exec = await containerd.ctr(['task', 'exec', '--exec-id', 'e1', 'vm4', 'sh', '-c', 'echo in-exec; ps -o pid,args; cat /proc/self/cgroup']);
  assert.match(exec.stdout, /^in-exec$/m);
  assert.match(exec.stdout, /^\s*1 sh -c trap/m, 'an exec sees the processes of the task, its first process as PID 1');
  assert.doesNotMatch(exec.stdout, /node|sandpod|agent/, 'and none of the guest agent processes');
  assert.match(exec.stdout, /^0::\/ctr-vm4$/m, 'it runs in the cgroup of the container');
  await assert.rejects(containerd.ctr(['task', 'exec', '--exec-id', 'e2', 'vm4', 'sh', '-c', 'exit 4']), (e: { code?: number }) => e.code === 4);
  await containerd.ctr(['task', 'kill', '-s', 'TERM', 'vm4']);
  for (let i = 0; i < 100 && !/^vm4\s+\d+\s+STOPPED$/m.test((await containerd.ctr(['task', 'ls'])).stdout); i++) await new Promise((r) => setTimeout(r, 100));
  assert.match((await containerd.ctr(['task', 'ls'])).stdout, /^vm4\s+\d+\s+STOPPED$/m);
  await containerd.ctr(['task', 'rm', 'vm4']);
  await containerd.ctr(['containers', 'rm', 'vm4']);
  assert.equal((await containerd.ctr(['task', 'ls', '-q'])).stdout.trim(), '');

  // `ctr run -t`: an interactive shell in the VM under a real pty, resized, with its exit code.
  const term = pty.spawn('ctr', ['--address', containerd.address, '--namespace', 'sandpod-test', 'run', '-t', '--rm', ...SHIM, IMAGE, 'vm5', 'sh'],
    { cols: 100, rows: 30, env: process.env as Record<string, string> });
  let screen = '';
  term.onData((d) => { screen += d; });
  const exited = new Promise<number>((resolve) => term.onExit((e) => resolve(e.exitCode)));
  const until = (re: RegExp): Promise<true> => waitUntil(() => (re.test(screen) ? true : undefined), { timeoutMs: 60_000, onTimeout: () => new Error(`terminal never showed ${re}: ${JSON.stringify(screen)}`) });
  await until(/\/ # /);
  term.write('tty; stty size; echo $((6*7))\r');
  await until(/\/dev\/pts\/\d+/);
  await until(/30 100/);
  await until(/\n42\r*\n/);
  term.resize(120, 40);
  await new Promise((r) => setTimeout(r, 300));
  term.write('stty size\r');
  await until(/40 120/);
  term.write('exit 3\r');
  assert.equal(await exited, 3);
});
