/**
 * Pushes an OCI image archive (an image layout in a tar, as writeOciArchive makes) to a registry with the
 * OCI distribution API over plain HTTP: each blob the repository lacks (HEAD) is uploaded in one piece
 * (POST /v2/<repository>/blobs/uploads/, then PUT <location>?digest=), then the manifest is PUT under the
 * tag. Only single-manifest images are handled, which is what Sandpod builds.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { invalid, unavailable, type SandpodError } from '../errors.js';
import { createLogger, type Logger } from '../log.js';
import { runTool } from '../run-tool.js';
import { canonicalReference, parseImageReference } from './reference.js';

const descriptor = z.object({
  mediaType: z.string(),
  digest: z.string().regex(/^sha256:[0-9a-f]{64}$/),
  size: z.number().int().nonnegative(),
  annotations: z.record(z.string(), z.string()).optional(),
});
const indexSchema = z.object({ schemaVersion: z.literal(2), manifests: z.array(descriptor).min(1) });
const IMAGE_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const manifestSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.enum([IMAGE_MANIFEST, DOCKER_MANIFEST]).optional(),
  config: descriptor,
  layers: z.array(descriptor),
});
const registryErrors = z.object({ errors: z.array(z.object({ code: z.string(), message: z.string().optional() })) });

export interface PushResult {
  /** The reference pushed, fully qualified (`docker.io/library/busybox:latest`). */
  reference: string;
  /** Where it went: `<registry>/v2/<repository>/manifests/<tag>`. */
  manifestUrl: string;
  digest: string;
  /** Blobs uploaded, and those the repository already had. */
  uploaded: string[];
  skipped: string[];
}

export interface PushOptions { logger?: Logger }

/** The image name an archive's index carries (containerd's annotation, as `ctr images import` reads it). */
const IMAGE_NAME_ANNOTATION = 'io.containerd.image.name';

/**
 * Pushes the image in `archive` to the registry at `registryUrl` (`http://127.0.0.1:5000`) as `ref`, or under
 * the name the archive carries. The registry host part of the reference is not used for addressing: the
 * image is stored under its repository path (see parseImageReference).
 */
export async function pushOciArchive(archive: string, registryUrl: string, ref?: string, opts: PushOptions = {}): Promise<PushResult> {
  const log = opts.logger ?? createLogger('image-push');
  const layout = await mkdtemp(join(tmpdir(), 'sandpod-push-'));
  try {
    await runTool(`image archive ${archive}`, 'tar', ['-C', layout, '-xf', archive]);
    const blobFile = (digest: string): string => join(layout, 'blobs', 'sha256', digest.slice('sha256:'.length));
    const readBlob = async (d: z.infer<typeof descriptor>): Promise<Buffer> => {
      const data = await readFile(blobFile(d.digest)).catch((e: Error) => {
        throw invalid(`image archive ${archive}`, `blob ${d.digest} is missing: ${e.message}; rebuild the archive`);
      });
      const actual = `sha256:${createHash('sha256').update(data).digest('hex')}`;
      if (actual !== d.digest || data.length !== d.size) {
        throw invalid(`image archive ${archive}`, `blob ${d.digest} does not match its descriptor (digest ${actual}, ${data.length} bytes); rebuild the archive`);
      }
      return data;
    };
    const index = parseJson(indexSchema, await readFile(join(layout, 'index.json'), 'utf8').catch(() => ''), `image archive ${archive}`, 'index.json');
    const entry = chooseManifest(index.manifests, archive, ref);
    const name = ref ?? entry.annotations?.[IMAGE_NAME_ANNOTATION];
    if (!name) throw invalid(`image archive ${archive}`, `the archive does not name its image (no ${IMAGE_NAME_ANNOTATION} annotation); pass a name to push it as`);
    const image = parseImageReference(name);
    const reference = canonicalReference(image);
    const manifestBytes = await readBlob(entry);
    const manifest = parseJson(manifestSchema, manifestBytes.toString('utf8'), `image archive ${archive}`, `manifest ${entry.digest}`);
    const registry = new RegistryClient(registryUrl, image.repository, reference);
    const uploaded: string[] = [];
    const skipped: string[] = [];
    for (const blob of [manifest.config, ...manifest.layers]) {
      if (await registry.hasBlob(blob.digest)) {
        skipped.push(blob.digest);
        continue;
      }
      await registry.uploadBlob(blob.digest, await readBlob(blob));
      uploaded.push(blob.digest);
    }
    const manifestUrl = await registry.putManifest(image.tag ?? image.digest ?? 'latest', manifestBytes, manifest.mediaType ?? entry.mediaType, entry.digest);
    log.info('pushed image', { object: `image/${reference}`, registry: registryUrl, digest: entry.digest, uploaded: uploaded.length, skipped: skipped.length });
    return { reference, manifestUrl, digest: entry.digest, uploaded, skipped };
  } finally {
    await rm(layout, { recursive: true, force: true });
  }
}

function parseJson<T>(schema: z.ZodType<T>, text: string, object: string, what: string): T {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalid(object, `${what} is missing or not JSON; is this an OCI image archive (sandpod image build writes one)?`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw invalid(object, `${what} is not a single-platform OCI image: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

/** The index entry to push: the only one, or the one named `ref`. */
function chooseManifest(manifests: z.infer<typeof descriptor>[], archive: string, ref: string | undefined): z.infer<typeof descriptor> {
  if (manifests.length === 1 && manifests[0]) return manifests[0];
  const names = manifests.map((m) => m.annotations?.[IMAGE_NAME_ANNOTATION] ?? m.digest);
  const wanted = ref === undefined ? undefined : canonicalReference(parseImageReference(ref));
  const match = manifests.find((m) => {
    const n = m.annotations?.[IMAGE_NAME_ANNOTATION];
    return n !== undefined && wanted !== undefined && canonicalReference(parseImageReference(n)) === wanted;
  });
  if (!match) throw invalid(`image archive ${archive}`, `the archive holds ${manifests.length} images (${names.join(', ')}); name the one to push`);
  return match;
}

/** The distribution API calls of one push, for one repository. Every failure names the registry and the image. */
class RegistryClient {
  private readonly base: string;

  constructor(private readonly registryUrl: string, private readonly repository: string, private readonly reference: string) {
    this.base = `${registryUrl.replace(/\/+$/, '')}/v2/${repository}`;
  }

  async hasBlob(digest: string): Promise<boolean> {
    const res = await this.request('HEAD', `${this.base}/blobs/${digest}`, `check blob ${digest}`);
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    throw await this.failure(res, `check blob ${digest}`);
  }

  async uploadBlob(digest: string, data: Buffer): Promise<void> {
    const started = await this.request('POST', `${this.base}/blobs/uploads/`, `start the upload of ${digest}`);
    const location = started.headers.get('location');
    if (started.status !== 202 || !location) throw await this.failure(started, `start the upload of ${digest}`);
    const url = new URL(location, this.registryUrl);
    url.searchParams.set('digest', digest);
    const done = await this.request('PUT', url.toString(), `upload blob ${digest}`, { 'content-type': 'application/octet-stream' }, data);
    if (done.status !== 201) throw await this.failure(done, `upload blob ${digest}`);
  }

  async putManifest(tag: string, body: Buffer, mediaType: string, digest: string): Promise<string> {
    const url = `${this.base}/manifests/${tag}`;
    const res = await this.request('PUT', url, `put the manifest as ${tag}`, { 'content-type': mediaType }, body);
    if (res.status !== 201) throw await this.failure(res, `put the manifest as ${tag}`);
    const stored = res.headers.get('docker-content-digest');
    if (stored && stored !== digest) {
      throw unavailable(`image/${this.reference}`, `registry ${this.registryUrl} stored the manifest as ${stored}, not ${digest}; it changed the manifest, which a registry must not do`);
    }
    return url;
  }

  private async request(method: string, url: string, what: string, headers: Record<string, string> = {}, body?: Buffer): Promise<Response> {
    try {
      const res = await fetch(url, { method, headers, ...(body ? { body: new Uint8Array(body) } : {}), signal: AbortSignal.timeout(120_000) });
      if (method === 'HEAD') await res.body?.cancel();
      return res;
    } catch (err) {
      throw unavailable(`image/${this.reference}`, `cannot reach registry ${this.registryUrl} to ${what}: ${(err as Error).cause ?? (err as Error).message}; is it running (sandpod up), and is the URL right?`, err);
    }
  }

  private async failure(res: Response, what: string): Promise<SandpodError> {
    const text = await res.text().catch(() => '');
    let detail = text.slice(0, 300);
    try {
      const parsed = registryErrors.safeParse(JSON.parse(text));
      if (parsed.success) detail = parsed.data.errors.map((e) => `${e.code}${e.message ? `: ${e.message}` : ''}`).join('; ');
    } catch { /* not JSON: keep the text */ }
    return unavailable(`image/${this.reference}`, `registry ${this.registryUrl} refused to ${what} in repository ${this.repository} (HTTP ${res.status}${detail ? `: ${detail}` : ''})`);
  }
}
