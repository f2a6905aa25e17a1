/**
 * Writes an OCI image archive (image layout in a tar) from a root filesystem directory: one gzip layer, the
 * image config, a manifest and an index naming the image, so `ctr images import` (or a registry push) takes it.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { runTool } from '../run-tool.js';

export interface ImageConfig {
  /** Full reference, e.g. `sandpod.local/busybox:latest`. */
  name: string;
  cmd: string[];
  env?: string[];
  workingDir?: string;
  entrypoint?: string[];
  /** The image's default user (`1000`, `1000:1000`, a name from its /etc/passwd). */
  user?: string;
}

export interface Descriptor { mediaType: string; digest: string; size: number; annotations?: Record<string, string>; platform?: Record<string, string> }

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A reproducible tar of a directory: sorted, owned by root, fixed times. */
export const tarDirectory = (dir: string): Promise<Buffer> =>
  runTool('image', 'tar', ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '--format=posix',
    '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime', '-C', dir, '-cf', '-', '.']);

/** Ref name of the index entry: the tag (or digest-less name) after the last colon of the last path part. */
export function refName(name: string): string {
  const last = name.slice(name.lastIndexOf('/') + 1);
  return last.includes(':') ? last.slice(last.indexOf(':') + 1) : 'latest';
}

export async function writeOciArchive(rootfs: string, config: ImageConfig, archive: string): Promise<Descriptor> {
  const layout = await mkdtemp(join(tmpdir(), 'sandpod-oci-'));
  try {
    const blobs = join(layout, 'blobs', 'sha256');
    await mkdir(blobs, { recursive: true });
    const put = async (data: Buffer, mediaType: string): Promise<Descriptor> => {
      const digest = sha256(data);
      await writeFile(join(blobs, digest.slice('sha256:'.length)), data);
      return { mediaType, digest, size: data.length };
    };
    const tar = await tarDirectory(rootfs);
    const layer = await put(gzipSync(tar), 'application/vnd.oci.image.layer.v1.tar+gzip');
    const imageConfig = await put(Buffer.from(JSON.stringify({
      architecture: 'amd64', os: 'linux', created: '1970-01-01T00:00:00Z',
      config: {
        Env: config.env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
        Cmd: config.cmd, ...(config.entrypoint ? { Entrypoint: config.entrypoint } : {}),
        WorkingDir: config.workingDir ?? '/', ...(config.user ? { User: config.user } : {}),
      },
      rootfs: { type: 'layers', diff_ids: [sha256(tar)] },
    })), 'application/vnd.oci.image.config.v1+json');
    const manifest = await put(Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: imageConfig, layers: [layer],
    })), 'application/vnd.oci.image.manifest.v1+json');
    const named: Descriptor = {
      ...manifest,
      annotations: { 'io.containerd.image.name': config.name, 'org.opencontainers.image.ref.name': refName(config.name) },
      platform: { architecture: 'amd64', os: 'linux' },
    };
    await writeFile(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [named] }));
    await writeFile(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    await writeFile(archive, await tarDirectory(layout));
    return named;
  } finally {
    await rm(layout, { recursive: true, force: true });
  }
}
