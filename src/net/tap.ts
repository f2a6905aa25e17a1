/**
 * VM pods on CNI: the pod's network namespace holds the veth CNI configured (eth0, with the pod's IP). The
 * VM's virtio-net is backed by a tap in that same namespace, and tc redirects every frame between the two,
 * so the guest, wearing eth0's MAC and IP, is the pod on the network. The namespace's own stack no longer
 * sees the pod's traffic. The tap belongs to QEMU (not persistent): it goes when the VM goes.
 */
import { z } from 'zod';
import { SandpodError } from '../errors.js';
import { runTool } from '../run-tool.js';

export const POD_INTERFACE = 'eth0';
export const VM_TAP = 'sptap0';

/** The pod's network as CNI left it on the veth: what the guest's interface must take over. */
export interface PodNetwork {
  mac: string;
  mtu: number;
  addresses: { address: string; prefix: number }[];
  routes: { destination: string; gateway?: string }[];
}

const addrJson = z.array(z.object({
  ifname: z.string(), mtu: z.number(), address: z.string(),
  addr_info: z.array(z.object({ family: z.string(), local: z.string(), prefixlen: z.number(), scope: z.string().optional() })),
}));
const routeJson = z.array(z.object({
  dst: z.string(), gateway: z.string().optional(), dev: z.string().optional(), protocol: z.string().optional(), scope: z.string().optional(),
}));

/** Runs `cmd` inside the network namespace at `netns` (a path such as /var/run/netns/cni-…). */
export const inNetns = (netns: string, cmd: string, args: string[]): Promise<Buffer> =>
  runTool(`netns/${netns}`, 'nsenter', [`--net=${netns}`, '--', cmd, ...args]);

export async function readPodNetwork(netns: string, dev = POD_INTERFACE): Promise<PodNetwork> {
  const object = `netns/${netns}`;
  let link;
  try {
    link = addrJson.parse(JSON.parse((await inNetns(netns, 'ip', ['-j', 'addr', 'show', 'dev', dev])).toString()))[0];
  } catch (err) {
    throw new SandpodError('NotFound', `the pod network namespace has no usable ${dev}: ${err instanceof Error ? err.message : String(err)}; did CNI set up the pod network?`, { object });
  }
  if (!link) throw new SandpodError('NotFound', `no ${dev} in the pod network namespace`, { object });
  const routes = routeJson.parse(JSON.parse((await inNetns(netns, 'ip', ['-j', '-4', 'route', 'show', 'dev', dev])).toString()));
  return {
    mac: link.address,
    mtu: link.mtu,
    addresses: link.addr_info.filter((a) => a.family === 'inet').map((a) => ({ address: a.local, prefix: a.prefixlen })),
    // Connected routes come back by themselves when the guest adds its address.
    routes: routes.filter((r) => !(r.protocol === 'kernel' && r.scope === 'link'))
      .map((r) => ({ destination: r.dst, ...(r.gateway ? { gateway: r.gateway } : {}) })),
  };
}

/** Redirects all traffic between the pod's veth and the VM's tap, both ways, once QEMU has the tap open. */
export async function wireTap(netns: string, tap = VM_TAP, dev = POD_INTERFACE): Promise<void> {
  const tc = (...args: string[]): Promise<Buffer> => inNetns(netns, 'tc', args);
  await inNetns(netns, 'ip', ['link', 'set', 'dev', tap, 'up']);
  for (const [from, to] of [[dev, tap], [tap, dev]] as const) {
    await tc('qdisc', 'add', 'dev', from, 'ingress');
    await tc('filter', 'add', 'dev', from, 'parent', 'ffff:', 'protocol', 'all', 'u32', 'match', 'u8', '0', '0',
      'action', 'mirred', 'egress', 'redirect', 'dev', to);
  }
}

/** Gives the namespace back its own traffic (the tap has gone with QEMU); a namespace already gone is fine. */
export async function unwireTap(netns: string, dev = POD_INTERFACE): Promise<void> {
  await inNetns(netns, 'tc', ['qdisc', 'del', 'dev', dev, 'ingress']).catch(() => undefined);
}
