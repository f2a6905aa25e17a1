/**
 * Registry credentials from a pod's imagePullSecrets, for CRI's PullImage, as kubelet's keyring picks them: a
 * `kubernetes.io/dockerconfigjson` (or legacy `.dockercfg`) secret whose registry matches the image's.
 */
import { z } from 'zod';
import type { AuthConfig, Input } from '../cri/index.js';
import type { KeyedData } from './projection.js';

const entrySchema = z.object({ username: z.string().optional(), password: z.string().optional(), auth: z.string().optional() }).passthrough();
const dockerConfigSchema = z.object({ auths: z.record(z.string(), entrySchema) }).passthrough();

/** The registry host of an image reference, as the runtime resolves it (docker.io when none is written). */
export function registryOf(image: string): string {
  const first = image.split('/')[0] ?? '';
  const host = image.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost') ? first : 'docker.io';
  return host === 'index.docker.io' || host === 'registry-1.docker.io' ? 'docker.io' : host;
}

/** `https://index.docker.io/v1/` → `docker.io`; `myregistry:5000/path` → `myregistry:5000`. */
const keyHost = (key: string): string => registryOf(`${key.replace(/^https?:\/\//, '').split('/')[0] ?? ''}/x`);

export function pullAuth(image: string, secrets: KeyedData[]): Input<AuthConfig> | undefined {
  const want = registryOf(image);
  for (const data of secrets) {
    const raw = data?.['.dockerconfigjson'] ?? data?.['.dockercfg'];
    if (!raw) continue;
    let parsed: unknown;
    try { parsed = JSON.parse(raw.toString('utf8')); } catch { continue; }
    const config = dockerConfigSchema.safeParse(data?.['.dockerconfigjson'] ? parsed : { auths: parsed });
    if (!config.success) continue;
    for (const [key, e] of Object.entries(config.data.auths)) {
      if (keyHost(key) !== want) continue;
      let { username = '', password = '' } = e;
      if (!username && e.auth) [username = '', password = ''] = Buffer.from(e.auth, 'base64').toString('utf8').split(/:(.*)/s);
      return { username, password, server_address: key };
    }
  }
  return undefined;
}
