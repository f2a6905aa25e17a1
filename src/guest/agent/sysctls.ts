/**
 * The pod's sysctls, written into the guest kernel: the VM's kernel holds exactly the pod's namespaces, so a
 * namespaced sysctl (the shim lets no other through) is set for the whole VM. One the guest kernel does not
 * know fails the request rather than being skipped.
 */
import { access, writeFile } from 'node:fs/promises';
import { release } from 'node:os';
import { posix } from 'node:path';
import { SandpodError } from '../../errors.js';
import type { Sysctls } from '../../protocol/index.js';

/** `net.ipv4.ip_forward` → `net/ipv4/ip_forward`; a name already written with slashes is taken as it is. */
export const sysctlPath = (name: string): string => (name.includes('/') ? name : name.replace(/\./g, '/'));

export async function applySysctls(sysctls: Sysctls, procSys = '/proc/sys'): Promise<void> {
  for (const [name, value] of Object.entries(sysctls)) {
    const path = posix.join(procSys, sysctlPath(name));
    if (!(await access(path).then(() => true, () => false))) {
      throw new SandpodError('NotFound', `sysctl ${name} does not exist in the guest kernel ${release()}; remove it from the pod's sysctls`);
    }
    await writeFile(path, value).catch((err: Error) => {
      throw new SandpodError('Invalid', `cannot set sysctl ${name} to "${value}": ${err.message}`);
    });
  }
}
