import { test } from 'node:test';
import assert from 'node:assert/strict';
import { qemuArgs } from './args.js';
import { hostTscKhz, tcgCacheMiB } from './qemu-vmm.js';
import type { VmConfig } from '../vmm.js';

const config: VmConfig = {
  name: 'sandpod-t', accel: 'tcg', cpus: 2, memoryMiB: 256, kernel: '/k', initrd: '/i', cmdline: '',
  consoleLog: '/r/console.log', qmpSocket: '/r/qmp.sock', agentSocket: '/r/agent.sock', agentPortName: 'p0',
  disks: [{ id: 'rt', path: '/rt.sqfs', readOnly: true }], shares: [{ id: 'rootfs', tag: 'rootfs', path: '/rootfs' }],
};

const after = (args: string[], flag: string): string | undefined => args[args.indexOf(flag) + 1];

test('a TCG VM gets its size, microvm with PIT, and the host TSC frequency on the kernel command line', () => {
  const args = qemuArgs(config, { tscKhz: 2445406 });
  assert.equal(after(args, '-m'), '256M');
  assert.equal(after(args, '-smp'), '2');
  assert.match(after(args, '-M') ?? '', /^microvm,.*pit=on,pic=on/);
  assert.equal(after(args, '-accel'), 'tcg');
  assert.match(after(args, '-append') ?? '', /tsc_early_khz=2445406/);
  assert.ok(args.includes('-no-reboot'));
  assert.ok(args.some((a) => a.includes('mount_tag=rootfs')));
  assert.ok(args.some((a) => a.startsWith('id=rt,file=/rt.sqfs') && a.includes('readonly=on')));
});

test('a TCG translation cache size is given to TCG only', () => {
  assert.equal(after(qemuArgs(config, { tscKhz: 1, tcgCacheMiB: 32 }), '-accel'), 'tcg,tb-size=32');
  assert.equal(after(qemuArgs({ ...config, accel: 'kvm' }, { tscKhz: 1, tcgCacheMiB: 32 }), '-accel'), 'kvm');
});

test('SANDPOD_TCG_CACHE_MIB sets the cache, 0 leaves QEMU its default, anything else is refused', () => {
  assert.equal(tcgCacheMiB({ SANDPOD_TCG_CACHE_MIB: '24' }), 24);
  assert.equal(tcgCacheMiB({ SANDPOD_TCG_CACHE_MIB: '0' }), undefined);
  assert.throws(() => tcgCacheMiB({ SANDPOD_TCG_CACHE_MIB: '1G' }), /not a size in MiB/);
});

test('a KVM VM uses the host CPU and no TSC hint', () => {
  const args = qemuArgs({ ...config, accel: 'kvm' }, { tscKhz: 2445406 });
  assert.equal(after(args, '-cpu'), 'host');
  assert.doesNotMatch(after(args, '-append') ?? '', /tsc_early_khz/);
});

test('host TSC frequency comes from cpuinfo', () => {
  assert.equal(hostTscKhz(() => 'processor\t: 0\ncpu MHz\t\t: 2445.406\n'), 2445406);
  assert.equal(hostTscKhz(() => 'nothing'), undefined);
});
