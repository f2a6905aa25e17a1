/**
 * The OCI images Sandpod's tests and lab use, built on this machine from Debian's packages (no registry):
 * root filesystems and OCI archives that containerd imports or a local registry serves.
 */
export { busyboxRootfs, BUSYBOX_STATIC } from './busybox.js';
export { writeOciArchive, tarDirectory, refName, type ImageConfig, type Descriptor } from './oci.js';
