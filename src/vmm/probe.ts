/**
 * Choosing the accelerator. /dev/kvm can exist and open yet be unable to run a standard guest (a PVM host
 * hangs it), so KVM is trusted only after a probe guest reaches userspace within a deadline. The verdict is
 * cached per (host kernel, QEMU version, guest kernel): probing costs a boot.
 */
import { constants } from 'node:fs';
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { release } from 'node:os';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import type { Logger } from '../log.js';
import { waitUntil } from '../wait.js';
import type { Accelerator, AcceleratorChoice, Vmm, VmConfig } from './vmm.js';

export interface ProbeGuest {
  kernel: string;
  kernelRelease: string;
  initrd: string;
  disks: VmConfig['disks'];
  agentPortName: string;
  /** A line the guest prints on its console once it runs userspace. */
  marker: string;
}

export interface AcceleratorVerdict {
  accel: Accelerator;
  reason: string;
  /** Whether the verdict came from the cache rather than a probe this time. */
  cached: boolean;
}

const verdictSchema = z.object({ key: z.string(), accel: z.enum(['kvm', 'tcg']), reason: z.string() });

export const KVM_DEVICE = '/dev/kvm';
export const PROBE_DEADLINE_MS = 8000;

async function kvmAccessible(device: string): Promise<string | undefined> {
  try {
    await access(device, constants.R_OK | constants.W_OK);
    return undefined;
  } catch (err) {
    return `${device} is not usable (${(err as NodeJS.ErrnoException).code ?? 'error'})`;
  }
}

export interface ProbeOptions {
  choice: AcceleratorChoice;
  vmm: Vmm;
  guest: ProbeGuest;
  cacheFile: string;
  log: Logger;
  kvmDevice?: string;
  deadlineMs?: number;
}

export async function chooseAccelerator(o: ProbeOptions): Promise<AcceleratorVerdict> {
  if (o.choice === 'tcg') return { accel: 'tcg', reason: 'TCG requested', cached: false };
  if (o.choice === 'kvm') return { accel: 'kvm', reason: 'KVM requested (not probed)', cached: false };
  const device = o.kvmDevice ?? KVM_DEVICE;
  const noKvm = await kvmAccessible(device);
  if (noKvm) return { accel: 'tcg', reason: `${noKvm}; using TCG software emulation`, cached: false };

  const key = `${release()}|${await o.vmm.version()}|${o.guest.kernelRelease}|${device}`;
  try {
    const v = verdictSchema.parse(JSON.parse(await readFile(o.cacheFile, 'utf8')));
    if (v.key === key) return { accel: v.accel, reason: v.reason, cached: true };
  } catch { /* no verdict yet */ }

  const verdict = await probeKvm(o);
  await mkdir(dirname(o.cacheFile), { recursive: true });
  await writeFile(o.cacheFile, JSON.stringify({ key, ...verdict }));
  return { ...verdict, cached: false };
}

async function probeKvm(o: ProbeOptions): Promise<{ accel: Accelerator; reason: string }> {
  const deadline = o.deadlineMs ?? PROBE_DEADLINE_MS;
  await mkdir(dirname(o.cacheFile), { recursive: true });
  const dir = await mkdtemp(join(dirname(o.cacheFile), '.probe-'));
  const consoleLog = join(dir, 'console.log');
  const started = Date.now();
  try {
    const vm = await o.vmm.start({
      name: 'sandpod-kvm-probe', accel: 'kvm', cpus: 1, memoryMiB: 256,
      kernel: o.guest.kernel, initrd: o.guest.initrd, cmdline: '',
      consoleLog, qmpSocket: join(dir, 'qmp.sock'), agentSocket: join(dir, 'agent.sock'),
      agentPortName: o.guest.agentPortName, disks: o.guest.disks, shares: [],
    });
    try {
      await waitUntil(async () => ((await readFile(consoleLog, 'utf8').catch(() => '')).includes(o.guest.marker) ? true : undefined), {
        timeoutMs: deadline,
        intervalMs: 50,
        abort: () => (vm.running() ? undefined : new Error('exited')),
        onTimeout: () => new Error('timeout'),
      });
      const ms = Date.now() - started;
      o.log.info('kvm probe succeeded', { ms });
      return { accel: 'kvm', reason: `KVM probe guest reached userspace in ${ms} ms` };
    } catch (err) {
      const e = vm.running() ? undefined : await vm.exited;
      const why = e
        ? `QEMU exited under KVM (${e.stderr.split('\n')[0] || `code ${e.code}`})`
        : `the probe guest did not reach userspace within ${deadline} ms (KVM here cannot run a standard guest kernel, e.g. a PVM host)`;
      o.log.warn('kvm probe failed', { why, err });
      return { accel: 'tcg', reason: `${device(o)} is present but ${why}; using TCG software emulation` };
    } finally {
      await vm.kill();
    }
  } catch (err) {
    const first = (err instanceof Error ? err.message : String(err)).split('\n')[0];
    return { accel: 'tcg', reason: `${device(o)} is present but QEMU could not start under KVM (${first}); using TCG software emulation` };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const device = (o: ProbeOptions): string => o.kvmDevice ?? KVM_DEVICE;
