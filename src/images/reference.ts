/**
 * Image references as containerd's CRI (and Docker) read them: `busybox` is `docker.io/library/busybox:latest`,
 * `me/app:1` is `docker.io/me/app:1`, and a first part with a dot, a colon or `localhost` is a registry host
 * (`sandpod.local/pause:3.9`). In a registry an image lives under its repository path without the host, which
 * is what lets one local registry serve as the mirror of several hosts (see docs/images.md).
 */
import { invalid } from '../errors.js';

export interface ImageReference {
  /** The registry host as written or implied: `docker.io`, `sandpod.local`, `localhost:5000`. */
  domain: string;
  /** The repository path inside that registry: `library/busybox`, `pause`. */
  repository: string;
  /** `latest` when neither a tag nor a digest is given. */
  tag: string | undefined;
  digest: string | undefined;
}

export const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const OFFICIAL_PREFIX = 'library/';

const component = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const domainPattern = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?$/;
const tagPattern = /^[\w][\w.-]{0,127}$/;
const digestPattern = /^sha256:[0-9a-f]{64}$/;

const isDomain = (part: string): boolean => part.includes('.') || part.includes(':') || part === 'localhost';

/** Parses and normalises a reference; fails with Invalid naming what is wrong with it. */
export function parseImageReference(ref: string): ImageReference {
  const bad = (why: string) => invalid(`image ${JSON.stringify(ref)}`, `not an image reference: ${why}; write it like busybox, busybox:1.36 or sandpod.local/pause:3.9`);
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!digestPattern.test(digest)) throw bad(`the digest "${digest}" is not sha256:<64 hex digits>`);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!tagPattern.test(tag)) throw bad(`the tag "${tag}" has characters a tag cannot have`);
  }
  const parts = rest.split('/');
  let domain = DEFAULT_DOMAIN;
  if (parts.length > 1 && isDomain(parts[0] ?? '')) {
    domain = parts.shift() ?? DEFAULT_DOMAIN;
    if (!domainPattern.test(domain)) throw bad(`the registry host "${domain}" is not a host name[:port]`);
    if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  }
  if (parts.length === 0 || parts.some((p) => !component.test(p))) {
    throw bad(`the repository "${parts.join('/')}" must be lowercase letters and digits in parts separated by /, ., _ or -`);
  }
  let repository = parts.join('/');
  if (domain === DEFAULT_DOMAIN && parts.length === 1) repository = OFFICIAL_PREFIX + repository;
  return { domain, repository, tag: tag ?? (digest ? undefined : 'latest'), digest };
}

/** The fully qualified form containerd stores: `docker.io/library/busybox:latest`. */
export function canonicalReference(ref: ImageReference): string {
  return `${ref.domain}/${ref.repository}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}
