/**
 * Gives the guest the pod's network identity: the interface whose MAC the host chose gets the pod's
 * addresses, MTU and routes, as CNI configured them on the host side of the tap.
 */
import { readdir, readFile } from 'node:fs/promises';
import { SandpodError } from '../../errors.js';
import type { GuestNetwork } from '../../protocol/index.js';
import { runTool } from '../../run-tool.js';
import { BUSYBOX } from '../layout.js';

async function interfaceWithMac(mac: string): Promise<string> {
  for (const name of await readdir('/sys/class/net')) {
    const addr = await readFile(`/sys/class/net/${name}/address`, 'utf8').catch(() => '');
    if (addr.trim() === mac) return name;
  }
  throw new SandpodError('NotFound', `no network interface with MAC ${mac} in the guest; is the virtio-net device attached?`);
}

export async function configureNetwork(net: GuestNetwork): Promise<string> {
  const dev = await interfaceWithMac(net.mac);
  const ip = (...args: string[]): Promise<Buffer> => runTool('guest', BUSYBOX, ['ip', ...args]);
  await ip('link', 'set', 'dev', dev, 'mtu', String(net.mtu));
  for (const a of net.addresses) await ip('addr', 'add', `${a.address}/${a.prefix}`, 'dev', dev);
  await ip('link', 'set', 'dev', dev, 'up');
  for (const r of net.routes) await ip('route', 'add', r.destination, ...(r.gateway ? ['via', r.gateway] : []), 'dev', dev);
  return dev;
}
