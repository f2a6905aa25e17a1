/**
 * Gives the guest the pod's network identity: the interface whose MAC the host chose gets the pod's
 * addresses, MTU and routes, as CNI configured them on the host side of the tap.
 */
import { readdir, readFile } from 'node:fs/promises';
import { SandpodError } from '../../errors.js';
import type { GuestNetwork } from '../../protocol/index.js';

/**
 * The interface with the pod's MAC; in a VM restored from a template, the one interface there is, still
 * wearing the template's MAC, which it then takes over.
 */
async function podInterface(mac: string): Promise<{ device: string; renamed: boolean }> {
  const names = (await readdir('/sys/class/net')).filter((n) => n !== 'lo');
  for (const name of names) {
    const addr = await readFile(`/sys/class/net/${name}/address`, 'utf8').catch(() => '');
    if (addr.trim() === mac) return { device: name, renamed: false };
  }
  const [only] = names;
  if (!only || names.length > 1) throw new SandpodError('NotFound', `no network interface with MAC ${mac} in the guest (found: ${names.join(', ') || 'none'}); is the virtio-net device attached?`);
  return { device: only, renamed: true };
}

/** The `ip` commands that give the pod's interface its MAC, MTU, addresses and routes. */
export async function networkCommands(net: GuestNetwork): Promise<{ device: string; commands: string[][] }> {
  const { device, renamed } = await podInterface(net.mac);
  const ip = (...args: string[]): string[] => ['ip', ...args];
  return {
    device,
    commands: [
      ...(renamed ? [ip('link', 'set', 'dev', device, 'address', net.mac)] : []),
      ip('link', 'set', 'dev', device, 'mtu', String(net.mtu)),
      ...net.addresses.map((a) => ip('addr', 'add', `${a.address}/${a.prefix}`, 'dev', device)),
      ip('link', 'set', 'dev', device, 'up'),
      ...net.routes.map((r) => ip('route', 'add', r.destination, ...(r.gateway ? ['via', r.gateway] : []), 'dev', device)),
      ...(net.node ? [
        ip('route', 'add', `${net.node.address}/32`, 'dev', device),
        // busybox's ip has no `neigh add`: arp -s makes the same permanent entry.
        ['arp', '-i', device, '-s', net.node.address, net.node.mac],
      ] : []),
    ],
  };
}
