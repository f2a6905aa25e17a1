/**
 * The images Sandpod builds by name (`sandpod image build <name>`) and the set the local cluster's registry
 * holds: each under its `sandpod.local/…` name, and busybox and stress also under their Docker Hub names, so
 * a pod saying `image: busybox` gets the local one (see docs/images.md).
 */
import type { SandpodPaths } from '../paths.js';
import { busyboxImageArchive } from './busybox.js';
import type { ImageArchive } from './cache.js';
import { pauseImageArchive } from './pause.js';
import { pushOciArchive, type PushResult } from './push.js';
import { stressImageArchive } from './stress.js';
import type { Logger } from '../log.js';

export interface LabImage {
  build(paths: SandpodPaths): Promise<ImageArchive>;
  /** Names it is pushed under besides its own `sandpod.local/…` name. */
  aliases: string[];
}

export const AKS_SAMPLE_IMAGE = 'mcr.microsoft.com/aks/fundamental/base-ubuntu:v0.0.11';

export const LAB_IMAGES = {
  // The AKS Pod Sandboxing sample's image name too, so its manifest runs unchanged.
  busybox: { build: busyboxImageArchive, aliases: ['busybox', AKS_SAMPLE_IMAGE] },
  stress: { build: stressImageArchive, aliases: ['stress'] },
  pause: { build: pauseImageArchive, aliases: [] },
} as const satisfies Record<string, LabImage>;

export type LabImageName = keyof typeof LAB_IMAGES;

export const isLabImageName = (name: string): name is LabImageName => Object.hasOwn(LAB_IMAGES, name);

/** Builds (or finds cached) every lab image and pushes each under all its names. */
export async function pushLabImages(paths: SandpodPaths, registryUrl: string, opts: { progress?: (step: string) => void; logger?: Logger } = {}): Promise<PushResult[]> {
  const pushed: PushResult[] = [];
  for (const [name, image] of Object.entries(LAB_IMAGES)) {
    opts.progress?.(`building the ${name} image`);
    const built = await image.build(paths);
    for (const ref of [built.name, ...image.aliases]) {
      opts.progress?.(`pushing ${ref}`);
      pushed.push(await pushOciArchive(built.archive, registryUrl, ref, opts.logger ? { logger: opts.logger } : {}));
    }
  }
  return pushed;
}
