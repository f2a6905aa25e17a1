/**
 * The OCI images Sandpod's tests and lab use, built on this machine from Debian's packages and a small C
 * program (no outside registry): root filesystems, and OCI archives, cached by content, that containerd
 * imports or that are pushed into the local registry (whose configuration lives here too; src/cluster runs
 * it). The pause image is the pod sandbox image of Sandpod's containerd CRI configuration.
 */
export { busyboxRootfs, busyboxImageArchive, BUSYBOX_STATIC, BUSYBOX_IMAGE } from './busybox.js';
export { pauseImageArchive, PAUSE_IMAGE } from './pause.js';
export { stressImageArchive, STRESS_IMAGE, STRESS_NG } from './stress.js';
export { nettoolsImageArchive, NETTOOLS_IMAGE, NFT } from './nettools.js';
export { netprobeImageArchive, NETPROBE_IMAGE, NODEJS } from './netprobe.js';
export { copyProgram, programFiles } from './programs.js';
export { cachedArchive, contentKey, type ImageArchive } from './cache.js';
export { writeOciArchive, tarDirectory, refName, type ImageConfig, type Descriptor } from './oci.js';
export { parseImageReference, canonicalReference, DEFAULT_DOMAIN, type ImageReference } from './reference.js';
export { pushOciArchive, type PushResult, type PushOptions } from './push.js';
export { registryConfigYaml, writeRegistryConfig, readRegistryConfig, registryArgs, registryUrl, registryServes, REGISTRY_BINARY, type RegistryConfig } from './registry.js';
export { LAB_IMAGES, AKS_SAMPLE_IMAGE, pushLabImages, isLabImageName, type LabImage, type LabImageName } from './lab.js';
