/**
 * `sandpod doctor`: what this machine can do for Sandpod and what is missing, as a table or JSON.
 */
import { access, constants } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describeError } from '../../errors.js';
import { KVM_DEVICE, QEMU_BINARY } from '../../vmm/index.js';
import { accelFrom, cliLogger, parse, pathsFrom } from '../options.js';
import { cliRuntime } from '../runtime.js';

interface Check { name: string; ok: boolean; value: string; fix?: string }

const tools: [string, string][] = [
  [QEMU_BINARY, 'qemu-system-x86'], ['busybox', 'busybox-static'], ['mksquashfs', 'squashfs-tools'],
  ['cpio', 'cpio'], ['unshare', 'util-linux'], ['xz', 'xz-utils'],
];

async function which(bin: string): Promise<string | undefined> {
  for (const dir of (process.env['PATH'] ?? '/usr/bin:/bin').split(':')) {
    try { await access(`${dir}/${bin}`, constants.X_OK); return `${dir}/${bin}`; } catch { /* next */ }
  }
  return undefined;
}

export async function doctor(argv: string[]): Promise<number> {
  const { values } = parse('doctor', argv, { json: { type: 'boolean' } });
  if (values.help) { process.stdout.write('usage: sandpod doctor [--json] [--accel auto|kvm|tcg]\n'); return 0; }
  const paths = pathsFrom(values);
  const runtime = cliRuntime(paths, accelFrom(values, 'doctor'), cliLogger('doctor'));
  const checks: Check[] = [];
  const setupFix = 'run scripts/setup';

  for (const [bin, pkg] of tools) {
    const path = await which(bin);
    checks.push({ name: `tool ${bin}`, ok: Boolean(path), value: path ?? 'missing', ...(path ? {} : { fix: `${setupFix} (Debian package ${pkg})` }) });
  }
  try {
    checks.push({ name: 'qemu version', ok: true, value: await runtime.vmmVersion() });
  } catch (err) {
    checks.push({ name: 'qemu version', ok: false, value: describeError(err), fix: setupFix });
  }
  const kvm = await access(KVM_DEVICE, constants.R_OK | constants.W_OK).then(() => 'present', () => 'absent or not accessible');
  checks.push({ name: 'kvm device', ok: true, value: `${KVM_DEVICE} ${kvm}` });
  try {
    const img = await runtime.guestImage();
    checks.push({ name: 'guest kernel', ok: true, value: img.kernelRelease });
    checks.push({ name: 'guest image', ok: true, value: `${img.initramfs} + ${img.runtimeImage}` });
    const v = await runtime.accelerator();
    checks.push({ name: 'accelerator', ok: true, value: `${v.accel}: ${v.reason}${v.cached ? ' (cached verdict)' : ''}` });
  } catch (err) {
    checks.push({ name: 'guest image', ok: false, value: describeError(err), fix: setupFix });
  }
  try {
    const { stdout } = await promisify(execFile)('uname', ['-r']);
    checks.push({ name: 'host kernel', ok: true, value: stdout.trim() });
  } catch { /* informational only */ }
  checks.push({ name: 'state root', ok: true, value: paths.stateRoot });
  checks.push({ name: 'cache root', ok: true, value: paths.cacheRoot });
  checks.push({ name: 'run root', ok: true, value: paths.runRoot });

  const healthy = checks.every((c) => c.ok);
  if (values.json) {
    process.stdout.write(JSON.stringify({ healthy, checks }, null, 2) + '\n');
  } else {
    const w = Math.max(...checks.map((c) => c.name.length));
    process.stdout.write(`${'CHECK'.padEnd(w)}  OK   VALUE\n`);
    for (const c of checks) {
      process.stdout.write(`${c.name.padEnd(w)}  ${c.ok ? 'yes' : 'NO '}  ${c.value}${c.fix ? `\n${''.padEnd(w)}       fix: ${c.fix}` : ''}\n`);
    }
    process.stdout.write(healthy ? '\nSandpod can run sandboxes here.\n' : '\nSomething Sandpod needs is missing: see the fixes above.\n');
  }
  return healthy ? 0 : 1;
}
