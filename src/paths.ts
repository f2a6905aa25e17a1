/**
 * Where Sandpod keeps things. Every root can be moved (flags or environment) so tests and several
 * installations never touch each other.
 */
import { join } from 'node:path';

export interface SandpodPaths {
  /** Durable state: sandbox records, cluster data. */
  stateRoot: string;
  /** Rebuildable downloads and builds: guest kernel, guest images, OCI image archives, probe verdicts. */
  cacheRoot: string;
  /** Runtime files that die with the machine: sockets, pid files. */
  runRoot: string;
  /**
   * VM templates (src/sandbox/templates.ts); `<runRoot>/templates` unless moved (SANDPOD_TEMPLATE_DIR). A template is
   * keyed by guest image, accelerator, size and QEMU version, so clusters and runs that share a directory share them.
   */
  templatesRoot?: string;
}

export const defaultPaths: SandpodPaths = {
  stateRoot: '/var/lib/sandpod',
  cacheRoot: '/var/cache/sandpod',
  runRoot: '/run/sandpod',
};

/** Paths from the environment (SANDPOD_STATE_DIR, SANDPOD_CACHE_DIR, SANDPOD_RUN_DIR, SANDPOD_TEMPLATE_DIR), then overrides. */
export function resolvePaths(overrides: Partial<SandpodPaths> = {}, env: NodeJS.ProcessEnv = process.env): SandpodPaths {
  const templatesRoot = overrides.templatesRoot ?? env['SANDPOD_TEMPLATE_DIR'];
  return {
    stateRoot: overrides.stateRoot ?? env['SANDPOD_STATE_DIR'] ?? defaultPaths.stateRoot,
    cacheRoot: overrides.cacheRoot ?? env['SANDPOD_CACHE_DIR'] ?? defaultPaths.cacheRoot,
    runRoot: overrides.runRoot ?? env['SANDPOD_RUN_DIR'] ?? defaultPaths.runRoot,
    ...(templatesRoot ? { templatesRoot } : {}),
  };
}

export const templatesDir = (p: SandpodPaths): string => p.templatesRoot ?? join(p.runRoot, 'templates');

export const kernelCacheDir = (p: SandpodPaths): string => join(p.cacheRoot, 'kernel');
export const guestImageCacheDir = (p: SandpodPaths): string => join(p.cacheRoot, 'guest');
/** OCI image archives built on this machine (the pause and busybox images). */
export const imageCacheDir = (p: SandpodPaths): string => join(p.cacheRoot, 'images');
export const sandboxRunDir = (p: SandpodPaths, id: string): string => join(p.runRoot, 'sandboxes', id);
export const sandboxStateDir = (p: SandpodPaths, id: string): string => join(p.stateRoot, 'sandboxes', id);
