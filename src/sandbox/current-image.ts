/**
 * The guest image for programs that boot sandboxes but do not build images (the containerd shim): the one
 * `sandpod` built last, named by a JSON file in the guest image cache.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { notFound } from '../errors.js';
import { guestImageCacheDir, type SandpodPaths } from '../paths.js';
import { CURRENT_IMAGE_FILE } from '../protocol/index.js';
import type { GuestImage } from './templates.js';

const schema = z.object({ kernelRelease: z.string(), vmlinux: z.string(), initramfs: z.string(), runtimeImage: z.string() });

export async function currentGuestImage(paths: SandpodPaths): Promise<GuestImage> {
  const file = join(guestImageCacheDir(paths), CURRENT_IMAGE_FILE);
  try {
    return schema.parse(JSON.parse(await readFile(file, 'utf8')));
  } catch (err) {
    throw notFound('guest-image', `no built guest image (${file}); run 'sandpod doctor' once to build it`, err);
  }
}
