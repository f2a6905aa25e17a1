/**
 * The net-tools image: Debian's nft with its shared libraries on the busybox userland (whose ip, brctl and
 * tunctl cover links, bridges and tun devices), for pods that administer their network: nf_tables rules in
 * a privileged VM pod load the guest's netfilter modules on demand.
 */
import type { SandpodPaths } from '../paths.js';
import { BUSYBOX_STATIC } from './busybox.js';
import type { ImageArchive } from './cache.js';
import { programImageArchive } from './programs.js';

export const NFT = '/usr/sbin/nft';
export const NETTOOLS_IMAGE = 'sandpod.local/nettools:latest';

/** The net-tools image archive, cached. */
export const nettoolsImageArchive = (paths: SandpodPaths, nft = NFT, busybox = BUSYBOX_STATIC): Promise<ImageArchive> =>
  programImageArchive(paths, { name: NETTOOLS_IMAGE, file: 'nettools', program: nft, cmd: ['sh'], builder: './nettools.js' }, busybox);
