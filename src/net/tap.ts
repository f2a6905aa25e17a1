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
  /** The namespace's own address toward the guest and the tap's MAC (localhostToGuest), for the guest to answer it. */
  node?: { address: string; mac: string };
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

/** The pod namespace's own address toward the guest, on the tap (link-local: never on any pod network). */
export const NODE_LINK_ADDRESS = '169.254.1.1';
const NFT_TABLE = 'sandpod-pod-localhost';

/**
 * Makes the pod namespace's localhost lead to the guest, as a runc pod's localhost is the pod: containerd's
 * CRI PortForward dials `localhost:PORT` inside the pod's network namespace. The pod's addresses leave the
 * namespace's eth0 (the guest holds them; eth0 stays up for tc), the namespace gets NODE_LINK_ADDRESS on
 * the tap and a route to each pod address through it (the guest's MAC fixed, no ARP), frames from the
 * guest to that address are classified ahead of the redirect and so go to the namespace's stack (a bare
 * flowid: no action module, which this host cannot load), and nftables in the
 * namespace sends whatever is addressed to 127.0.0.1 to the pod's first address (DNAT, then SNAT from
 * NODE_LINK_ADDRESS; route_localnet lets 127.0.0.1 leave lo). Returns what the guest needs to answer: the
 * address and the tap's MAC.
 */
export async function localhostToGuest(netns: string, network: PodNetwork, tap = VM_TAP, dev = POD_INTERFACE): Promise<{ address: string; mac: string }> {
  const ip = (...args: string[]): Promise<Buffer> => inNetns(netns, 'ip', args);
  const [pod] = network.addresses;
  const tapLink = z.array(z.object({ address: z.string() })).parse(JSON.parse((await ip('-j', 'link', 'show', 'dev', tap)).toString()))[0];
  if (!pod || !tapLink) throw new SandpodError('NotFound', `the pod network namespace has no IPv4 address on ${dev} or no ${tap}`, { object: `netns/${netns}` });
  for (const a of network.addresses) await ip('addr', 'del', `${a.address}/${a.prefix}`, 'dev', dev);
  await ip('addr', 'add', `${NODE_LINK_ADDRESS}/32`, 'dev', tap);
  for (const a of network.addresses) {
    await ip('route', 'add', `${a.address}/32`, 'dev', tap, 'src', NODE_LINK_ADDRESS);
    await ip('neigh', 'replace', a.address, 'lladdr', network.mac, 'dev', tap, 'nud', 'permanent');
  }
  await inNetns(netns, 'tc', ['filter', 'add', 'dev', tap, 'parent', 'ffff:', 'protocol', 'ip', 'prio', '1', 'u32', 'match', 'ip', 'dst', `${NODE_LINK_ADDRESS}/32`, 'flowid', 'ffff:1']);
  await inNetns(netns, 'sysctl', ['-q', '-w', 'net.ipv4.conf.all.route_localnet=1']);
  await runTool(`netns/${netns}`, 'nsenter', [`--net=${netns}`, '--', 'nft', '-f', '-'], {
    input: Buffer.from([
      `table ip ${NFT_TABLE} {`,
      '  chain output {', '    type nat hook output priority -100;', `    ip daddr 127.0.0.1 dnat to ${pod.address}`, '  }',
      '  chain postrouting {', '    type nat hook postrouting priority 100;', `    oifname "${tap}" ip saddr 127.0.0.1 snat to ${NODE_LINK_ADDRESS}`, '  }',
      '}', '',
    ].join('\n')),
  });
  return { address: NODE_LINK_ADDRESS, mac: tapLink.address };
}

/** Gives the namespace back its own traffic (the tap has gone with QEMU); a namespace already gone is fine. */
export async function unwireTap(netns: string, dev = POD_INTERFACE): Promise<void> {
  await inNetns(netns, 'tc', ['qdisc', 'del', 'dev', dev, 'ingress']).catch(() => undefined);
}
