/**
 * CNI network configuration for a node's pods: one Linux bridge holding the gateway address, host-local
 * IPAM over the node's pod subnet, no masquerading (pod traffic stays on this machine's bridges).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

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
      type: 'bridge', bridge: network.bridge, isGateway: true, ipMasq: false,
      ipam: { type: 'host-local', ranges: [[{ subnet: network.subnet, gateway: network.gateway }]], dataDir: network.dataDir },
    }],
  }, null, 2);
}

/** Writes the network's conflist into `confDir` as `<file>` (CRI takes the first file by name). */
export async function writeBridgeConflist(confDir: string, file: string, network: BridgeNetwork): Promise<string> {
  await mkdir(confDir, { recursive: true });
  const path = join(confDir, file);
  await writeFile(path, bridgeConflist(network));
  return path;
}
