import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeProcFs } from './fake-proc.js';
import { VmProcessFinder } from './vm-processes.js';

const vmPod = 'aa11bb22cc33dd44ee55ff66778899aabbccddeeff00112233445566778899aa';
const plainPod = '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';
const qemu = (id: string): string[] => ['qemu-system-x86_64', '-name', `sandpod-${id.slice(0, 24)}`, '-accel', 'tcg'];
const shim = (id: string, ...rest: string[]): string[] => ['/usr/bin/node', '/repo/dist/src/shim/main.js', '-namespace', 'k8s.io', '-id', id, ...rest];

function host(): FakeProcFs {
  const proc = new FakeProcFs();
  proc.processes.set(100, { argv: qemu(vmPod), ticks: 0, startTicks: 500 });
  proc.processes.set(90, { argv: shim(vmPod, '-socket', '/run/containerd/s/1'), ticks: 0, startTicks: 400 });
  proc.processes.set(91, { argv: shim(vmPod, 'start'), ticks: 0, startTicks: 401 });
  proc.processes.set(80, { argv: ['/usr/bin/containerd-shim-runc-v2', '-namespace', 'k8s.io', '-id', plainPod, '-address', '/c'], ticks: 0, startTicks: 300 });
  proc.processes.set(70, { argv: qemu('someotherid0000000000000000'), ticks: 0, startTicks: 200 });
  return proc;
}

test('a VM pod\'s QEMU and shim daemon are found from its sandbox id; a plain pod has none', async () => {
  const finder = new VmProcessFinder(host());
  const found = await finder.find([vmPod, plainPod]);
  assert.deepEqual(found.get(vmPod)?.sort((a, b) => a.pid - b.pid), [
    { role: 'shim', pid: 90, startTicks: 400 },
    { role: 'qemu', pid: 100, startTicks: 500 },
  ]);
  assert.equal(found.has(plainPod), false);
});

test('/proc is scanned again only for new sandboxes or when a process found earlier is gone', async () => {
  const proc = host();
  const finder = new VmProcessFinder(proc);
  await finder.find([vmPod, plainPod]);
  await finder.find([vmPod, plainPod]);
  assert.equal(proc.scans, 1, 'nothing changed: no scan');
  // QEMU killed and a new one started for the same sandbox, reusing the pid: a new process all the same.
  proc.processes.set(100, { argv: qemu(vmPod), ticks: 0, startTicks: 900 });
  const again = await finder.find([vmPod, plainPod]);
  assert.equal(proc.scans, 2);
  assert.equal(again.get(vmPod)?.find((p) => p.role === 'qemu')?.startTicks, 900);
  proc.processes.delete(100);
  assert.deepEqual((await finder.find([vmPod]))?.get(vmPod)?.map((p) => p.role), ['shim'], 'what is left is still reported');
  assert.equal(proc.scans, 3);
});
