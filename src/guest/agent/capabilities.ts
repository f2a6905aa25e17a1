/**
 * Linux capability names and their bit numbers (include/uapi/linux/capability.h), so an OCI process's
 * capability list can be handed to sandpod-spawn as one mask.
 */
import { SandpodError } from '../../errors.js';

const CAPABILITIES = [
  'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP',
  'LINUX_IMMUTABLE', 'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'IPC_OWNER',
  'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT', 'SYS_PTRACE', 'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE',
  'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE', 'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP',
  'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ', 'PERFMON', 'BPF',
  'CHECKPOINT_RESTORE',
] as const;

/** The mask, as hex, of the named capabilities (`CAP_NET_ADMIN`, …); unknown names are an error. */
export function capabilityMask(names: string[]): string {
  let mask = 0n;
  for (const name of names) {
    const bit = CAPABILITIES.indexOf(name.replace(/^CAP_/, '') as (typeof CAPABILITIES)[number]);
    if (bit < 0) throw new SandpodError('Invalid', `unknown capability ${name}`);
    mask |= 1n << BigInt(bit);
  }
  return mask.toString(16);
}
