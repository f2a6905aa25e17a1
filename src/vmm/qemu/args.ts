/**
 * QEMU command line for a Sandpod VM: the microvm machine, no default devices, kernel + initramfs boot.
 * Device order is fixed (console, agent port, disks, shares) because a restored snapshot needs the same layout.
 */
import type { VmConfig } from '../vmm.js';
import { agentPortArgs } from './devices/agent-port.js';
import { serialConsoleArgs, serialConsoleCmdline } from './devices/serial-console.js';
import { virtio9pArgs } from './devices/virtio-9p.js';
import { virtioBlkArgs } from './devices/virtio-blk.js';
import { virtioNetArgs } from './devices/virtio-net.js';

/**
 * pit and pic stay on: Debian's standard kernel calibrates its TSC against the PIT under TCG and hangs without it.
 * rtc stays on so the guest starts with the right wall-clock time.
 */
const MACHINE = 'microvm,x-option-roms=off,isa-serial=on,pit=on,pic=on,rtc=on';

/**
 * Kernel options every Sandpod guest boots with: quiet, no reboot loop (QEMU runs with -no-reboot), and the
 * slowest start-up work a sandbox never uses skipped (measured with initcall_debug under TCG: kprobe tracing
 * setup alone took 0.26 s). Spectre-class mitigations inside the guest protect guest processes from each
 * other, which a single-pod VM does not need; the host keeps its own.
 */
export const BASE_CMDLINE = [
  'reboot=t', 'panic=-1', 'quiet', 'loglevel=3', 'mitigations=off', 'tsc=reliable', 'no_timer_check', 'cryptomgr.notests',
  'initcall_blacklist=init_kprobe_trace,crypto_kdf108_init',
];

export interface HostFacts {
  /** The host's TSC frequency, which a TCG guest's rdtsc runs at. */
  tscKhz: number | undefined;
  /**
   * The size of TCG's translation cache (QEMU's `tb-size`), in MiB; QEMU's own default when unset. That default
   * is 1 GiB of address space, of which a restored idle guest fills about 48 MiB: memory of each VM's own, in huge
   * pages, that no clone shares. When a smaller cache fills, QEMU drops it and translates again.
   */
  tcgCacheMiB?: number | undefined;
}

/**
 * Under TCG the guest calibrates its TSC against the emulated PIT; on a loaded host that calibration fails
 * and the kernel hangs early in boot. Telling it the frequency (tsc_early_khz) removes the calibration.
 */
function accelCmdline(c: VmConfig, host: HostFacts): string[] {
  return c.accel === 'tcg' && host.tscKhz ? [`tsc_early_khz=${host.tscKhz}`] : [];
}

export function qemuArgs(c: VmConfig, host: HostFacts): string[] {
  const tcg = host.tcgCacheMiB ? `tcg,tb-size=${host.tcgCacheMiB}` : 'tcg';
  const accel = c.accel === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', tcg, '-cpu', 'max'];
  return [
    '-name', c.name,
    '-M', c.memoryFile ? `${MACHINE},memory-backend=ram0` : MACHINE,
    ...accel,
    '-m', `${c.memoryMiB}M`,
    ...(c.memoryFile
      ? ['-object', `memory-backend-file,id=ram0,size=${c.memoryMiB}M,mem-path=${c.memoryFile.path},share=${c.memoryFile.shared ? 'on' : 'off'}`]
      : []),
    ...(c.incoming ? ['-S', '-incoming', 'defer'] : []),
    '-smp', String(c.cpus),
    '-nodefaults', '-no-user-config', '-nographic', '-no-reboot',
    '-kernel', c.kernel,
    '-initrd', c.initrd,
    '-append', [serialConsoleCmdline, ...BASE_CMDLINE, ...accelCmdline(c, host), c.cmdline].filter((s) => s !== '').join(' '),
    '-qmp', `unix:${c.qmpSocket},server=on,wait=off`,
    ...serialConsoleArgs(c.consoleLog),
    ...agentPortArgs(c.agentSocket, c.agentPortName),
    ...c.disks.flatMap(virtioBlkArgs),
    ...c.shares.flatMap(virtio9pArgs),
    ...(c.nics ?? []).flatMap(virtioNetArgs),
  ];
}
