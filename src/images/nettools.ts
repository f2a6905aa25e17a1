/**
 * The net-tools image: Debian's nft with its shared libraries on the busybox userland (whose ip, brctl and
 * tunctl cover links, bridges and tun devices), for pods that administer their network: nf_tables rules in
 * a privileged VM pod load the guest's netfilter modules on demand.
 */
import { join } from 'node:path';
import { imageCacheDir, type SandpodPaths } from '../paths.js';
import { BUSYBOX_STATIC, busyboxRootfs } from './busybox.js';
import { builderSources, cachedArchive, contentKey, fileIdentity, type ImageArchive } from './cache.js';
import { writeOciArchive } from './oci.js';
import { copyProgram, programFiles } from './programs.js';

export const NFT = '/usr/sbin/nft';
export const NETTOOLS_IMAGE = 'sandpod.local/nettools:latest';

/** The net-tools image archive, written once per (nft and its libraries, busybox, builder) and cached. */
export async function nettoolsImageArchive(paths: SandpodPaths, nft = NFT, busybox = BUSYBOX_STATIC): Promise<ImageArchive> {
  const inputs = await Promise.all([...(await programFiles(nft)), busybox].map(fileIdentity));
  const key = contentKey([NETTOOLS_IMAGE, ...inputs, ...(await builderSources('./oci.js', './busybox.js', './programs.js', './nettools.js'))]);
  const archive = await cachedArchive(imageCacheDir(paths), 'nettools', key, async (out, scratch) => {
    const rootfs = await busyboxRootfs(join(scratch, 'rootfs'), busybox);
    await copyProgram(rootfs, nft);
    await writeOciArchive(rootfs, { name: NETTOOLS_IMAGE, cmd: ['sh'] }, out);
  });
  return { name: NETTOOLS_IMAGE, archive };
}
