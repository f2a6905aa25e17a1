/**
 * The stress image: Debian's stress-ng with its shared libraries on the busybox userland, for workloads that
 * load CPUs and memory in the lab (`stress-ng --cpu 2 --vm 1 --vm-bytes 200M --timeout 60s`).
 */
import type { SandpodPaths } from '../paths.js';
import { BUSYBOX_STATIC } from './busybox.js';
import type { ImageArchive } from './cache.js';
import { programImageArchive } from './programs.js';

export const STRESS_NG = '/usr/bin/stress-ng';
export const STRESS_IMAGE = 'sandpod.local/stress:latest';

/** The stress image archive, cached. */
export const stressImageArchive = (paths: SandpodPaths, stressNg = STRESS_NG, busybox = BUSYBOX_STATIC): Promise<ImageArchive> =>
  programImageArchive(paths, { name: STRESS_IMAGE, file: 'stress', program: stressNg, cmd: ['stress-ng', '--version'], builder: './stress.js' }, busybox);
