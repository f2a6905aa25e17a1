/**
 * CNI network configuration for a node's pods: one Linux bridge holding the gateway address, host-local
 * IPAM over the node's pod subnet, no masquerading, and no forwarding: pods reach each other on the bridge
 * and the host at the gateway address, and nothing of theirs is routed anywhere else.
 *
 * The bridge and its address are made here rather than by the bridge plugin (`isGateway`), because the
 * plugin then switches on the host's IPv4 forwarding, which would route pod traffic off this machine.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runTool } from '../run-tool.js';

export interface BridgeNetwork {
  /** The CNI network name. */
  name: string;
  /** The Linux bridge's name (at most 15 characters). */
  bridge: string;
  /** The pod subnet, e.g. `10.213.7.0/24`. */
  subnet: string;
  /** The bridge's address in the subnet, the pods' default gateway. */
  gateway: string;
  /** Where host-local IPAM keeps its allocations. */
  dataDir: string;
}

/** The `.conflist` for a bridge network, as containerd's CRI reads it from its `conf_dir`. */
export function bridgeConflist(network: BridgeNetwork): string {
  return JSON.stringify({
    cniVersion: '1.0.0',
    name: network.name,
    plugins: [{
      type: 'bridge', bridge: network.bridge, isGateway: false, ipMasq: false,
      ipam: {
        type: 'host-local', ranges: [[{ subnet: network.subnet, gateway: network.gateway }]], dataDir: network.dataDir,
        routes: [{ dst: '0.0.0.0/0', gw: network.gateway }],
      },
    }],
  }, null, 2);
}

/** Creates the network's bridge with the gateway address (if it is not there yet) and brings it up. */
export async function ensureBridge(network: Pick<BridgeNetwork, 'bridge' | 'subnet' | 'gateway'>): Promise<void> {
  const object = `bridge/${network.bridge}`;
  const exists = await runTool(object, 'ip', ['link', 'show', 'dev', network.bridge]).then(() => true, () => false);
  if (!exists) await runTool(object, 'ip', ['link', 'add', network.bridge, 'type', 'bridge']);
  const prefix = network.subnet.split('/')[1] ?? '24';
  const addrs = (await runTool(object, 'ip', ['-4', '-o', 'addr', 'show', 'dev', network.bridge])).toString();
  if (!addrs.includes(` ${network.gateway}/`)) await runTool(object, 'ip', ['addr', 'add', `${network.gateway}/${prefix}`, 'dev', network.bridge]);
  await runTool(object, 'ip', ['link', 'set', network.bridge, 'up']);
}

/** The bridge (ensureBridge) and the conflist CRI reads: what a node's pod network needs before containerd starts. */
export async function prepareBridgeNetwork(confDir: string, file: string, network: BridgeNetwork): Promise<string> {
  await ensureBridge(network);
  return writeBridgeConflist(confDir, file, network);
}

/** Writes the network's conflist into `confDir` as `<file>` (CRI takes the first file by name). */
export async function writeBridgeConflist(confDir: string, file: string, network: BridgeNetwork): Promise<string> {
  await mkdir(confDir, { recursive: true });
  const path = join(confDir, file);
  await writeFile(path, bridgeConflist(network));
  return path;
}
