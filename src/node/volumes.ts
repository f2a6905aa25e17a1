/**
 * A pod's files on the node, laid out as kubelet lays them out under its pods directory:
 * `<podsDir>/<uid>/volumes/<plugin>/<name>` for each volume, `containers/<name>/<attempt>` for termination
 * messages and `etc-hosts`. Volumes are prepared before the first container and refreshed on every sync
 * (ConfigMap and Secret changes reach running pods); containers get them as CRI bind mounts, which the VM
 * runtime carries into the guest. Secrets live on a tmpfs, never on disk. A memory emptyDir is a tmpfs for a
 * runc pod and, for a VM pod, a tmpfs inside the VM (the node only names it; see docs/node-agent.md).
 */
import { chmod, chown, lstat, mkdir, readFile, realpath, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Input, Mount } from '../cri/index.js';
import { isMounted, unmountBelow } from '../mounts.js';
import { runTool } from '../run-tool.js';
import { quantityValue, type Container, type KubeObject, type PodSpec, type Volume } from '../kube/index.js';
import { writeAtomically } from './atomic-writer.js';
import type { PodFacts } from './downward.js';
import { expand } from './env.js';
import { mountError, projectVolume, type Projection, type ProjectionSources } from './projection.js';

/** kubelet's plugin directory names, which the VM runtime recognises too. */
export const VOLUME_PLUGIN = {
  emptyDir: 'kubernetes.io~empty-dir',
  configMap: 'kubernetes.io~configmap',
  secret: 'kubernetes.io~secret',
  downwardAPI: 'kubernetes.io~downward-api',
  projected: 'kubernetes.io~projected',
} as const;

/** The pod annotation that tells the VM runtime which emptyDirs are memory-backed, and how large they may grow. */
export const MEMORY_VOLUMES_ANNOTATION = 'sandpod.io/memory-volumes';

const pluginOf = (v: Volume): string | undefined => {
  for (const [source, dir] of Object.entries(VOLUME_PLUGIN)) if ((v as Record<string, unknown>)[source] !== undefined) return dir;
  return undefined;
};

const sizeLimit = (v: Volume): number | undefined => {
  const q = v.emptyDir?.sizeLimit;
  const n = q === undefined ? undefined : quantityValue(q);
  return n && n > 0 ? Math.floor(n) : undefined;
};

/** Whether a volume's contents come from the API (and so hold secrets when any source is a Secret). */
const holdsSecrets = (v: Volume): boolean => v.secret !== undefined || (v.projected?.sources ?? []).some((s) => s.secret !== undefined);

export class PodVolumes {
  readonly dir: string;

  constructor(podsDir: string, private readonly uid: string) {
    this.dir = join(podsDir, uid);
  }

  private get object(): string { return `pod/${this.uid}`; }

  /** Where a volume lives on the node. */
  hostPath(v: Volume): string {
    if (v.hostPath) return v.hostPath.path;
    const plugin = pluginOf(v);
    if (!plugin) throw mountError(v.name, 'this volume type is not supported by Sandpod\'s nodes');
    return join(this.dir, 'volumes', plugin, v.name);
  }

  /**
   * Makes every volume of the pod ready and brings projected ones up to date; throws kubelet's FailedMount
   * error for the first that cannot be (a missing ConfigMap, say). Returns the volumes whose files changed.
   * `vm`: the pod runs in a VM, where memory emptyDirs are made by the runtime inside the VM.
   */
  async setUp(pod: KubeObject, spec: PodSpec, facts: PodFacts, sources: ProjectionSources, vm: boolean): Promise<string[]> {
    const gid = spec.securityContext?.fsGroup;
    const changed: string[] = [];
    for (const v of spec.volumes ?? []) {
      if (v.hostPath) { await this.checkHostPath(v); continue; }
      const path = this.hostPath(v);
      if (v.emptyDir) { await this.emptyDir(v, path, gid, vm); continue; }
      const files = projectVolume(v, pod, spec, facts, sources);
      if (!files) continue;
      if (holdsSecrets(v)) await this.tmpfs(path, tmpfsSize(files));
      if (await writeAtomically(path, files, gid)) changed.push(v.name);
    }
    return changed;
  }

  private async emptyDir(v: Volume, path: string, gid: number | undefined, vm: boolean): Promise<void> {
    const fresh = !(await stat(path).catch(() => undefined));
    await mkdir(path, { recursive: true });
    // A runc pod's memory emptyDir is a tmpfs on the node; a VM pod's is made inside the VM by the runtime.
    if (v.emptyDir?.medium === 'Memory' && !vm) await this.tmpfs(path, sizeLimit(v));
    if (!fresh) return;
    if (gid !== undefined) {
      await chown(path, 0, gid);
      await chmod(path, 0o2777);
    } else {
      await chmod(path, 0o777);
    }
  }

  private async tmpfs(path: string, size: number | undefined): Promise<void> {
    await mkdir(path, { recursive: true });
    const opts = `mode=0755${size ? `,size=${size}` : ''}`;
    if (await isMounted(path)) {
      if (size) await runTool(this.object, 'mount', ['-o', `remount,${opts}`, path]);
      return;
    }
    await runTool(this.object, 'mount', ['-t', 'tmpfs', '-o', `nosuid,nodev,${opts}`, 'tmpfs', path]);
  }

  private async checkHostPath(v: Volume): Promise<void> {
    const { path, type = '' } = v.hostPath ?? { path: '' };
    const st = await stat(path).catch(() => undefined);
    const fail = (what: string): never => { throw mountError(v.name, `hostPath type check failed: ${path} is not ${what}`); };
    switch (type) {
      case 'DirectoryOrCreate':
        if (!st) await mkdir(path, { recursive: true, mode: 0o755 });
        else if (!st.isDirectory()) fail('a directory');
        return;
      case 'FileOrCreate':
        if (!st) await writeFile(path, '', { mode: 0o644 });
        else if (!st.isFile()) fail('a file');
        return;
      case 'Directory': if (!st?.isDirectory()) fail('a directory'); return;
      case 'File': if (!st?.isFile()) fail('a file'); return;
      case 'Socket': if (!st?.isSocket()) fail('a socket file'); return;
      case 'CharDevice': if (!st?.isCharacterDevice()) fail('a character device'); return;
      case 'BlockDevice': if (!st?.isBlockDevice()) fail('a block device'); return;
      default: return;
    }
  }

  /** For a VM pod: its memory emptyDirs and their size limits (0: none), for the runtime annotation. */
  memoryVolumes(spec: PodSpec): Record<string, number> | undefined {
    const out: Record<string, number> = {};
    for (const v of spec.volumes ?? []) if (v.emptyDir?.medium === 'Memory') out[v.name] = sizeLimit(v) ?? 0;
    return Object.keys(out).length > 0 ? out : undefined;
  }

  /**
   * The container's volume mounts as CRI mounts: subPath (or subPathExpr, expanded with the container's
   * environment) resolved inside the volume and made when missing, never followed out of it.
   */
  async mounts(spec: PodSpec, c: Container, env: ReadonlyMap<string, string>): Promise<Input<Mount>[]> {
    const volumes = new Map((spec.volumes ?? []).map((v) => [v.name, v]));
    const out: Input<Mount>[] = [];
    for (const m of c.volumeMounts ?? []) {
      const v = volumes.get(m.name);
      if (!v) throw mountError(m.name, `volume "${m.name}" is not defined in the pod`);
      let source = this.hostPath(v);
      const sub = m.subPathExpr ? expand(m.subPathExpr, env) : m.subPath;
      if (sub) source = await safeSubPath(v.name, source, sub, v.hostPath === undefined || v.hostPath.type === 'DirectoryOrCreate');
      out.push({
        container_path: m.mountPath, host_path: source, readonly: m.readOnly ?? false,
        propagation: m.mountPropagation === 'Bidirectional' ? 'PROPAGATION_BIDIRECTIONAL' : m.mountPropagation === 'HostToContainer' ? 'PROPAGATION_HOST_TO_CONTAINER' : 'PROPAGATION_PRIVATE',
      });
    }
    return out;
  }

  /** A fresh, empty file for a container instance's termination message (mounted at terminationMessagePath). */
  async terminationLog(container: string, attempt: number): Promise<string> {
    const dir = join(this.dir, 'containers', container);
    await mkdir(dir, { recursive: true });
    const path = join(dir, String(attempt));
    await writeFile(path, '', { mode: 0o666 });
    await chmod(path, 0o666);
    return path;
  }

  /** Removes an old instance's termination message file (its container is gone). */
  async forgetInstance(container: string, attempt: number): Promise<void> {
    await rm(join(this.dir, 'containers', container, String(attempt)), { force: true });
  }

  /** What a container instance wrote to its termination message file (4 KiB at most, as kubelet reads). */
  async terminationMessage(container: string, attempt: number): Promise<string> {
    const data = await readFile(join(this.dir, 'containers', container, String(attempt))).catch(() => Buffer.alloc(0));
    return data.subarray(0, 4096).toString('utf8');
  }

  /** The pod's /etc/hosts as kubelet writes it: localhost, the pod's own name and address, then hostAliases. */
  async etcHosts(podIP: string | undefined, hostname: string, fqdn: string | undefined, spec: PodSpec): Promise<string> {
    const lines = [
      '# Kubernetes-managed hosts file.',
      '127.0.0.1\tlocalhost',
      '::1\tlocalhost ip6-localhost ip6-loopback',
      'fe00::0\tip6-localnet',
      'fe00::0\tip6-mcastprefix',
      'fe00::1\tip6-allnodes',
      'fe00::2\tip6-allrouters',
      ...(podIP ? [fqdn ? `${podIP}\t${fqdn}\t${hostname}` : `${podIP}\t${hostname}`] : []),
    ];
    if ((spec.hostAliases ?? []).length > 0) {
      lines.push('', '# Entries added by HostAliases.');
      for (const a of spec.hostAliases ?? []) lines.push(`${a.ip}\t${(a.hostnames ?? []).join('\t')}`);
    }
    await mkdir(this.dir, { recursive: true });
    const path = join(this.dir, 'etc-hosts');
    await writeFile(path, `${lines.join('\n')}\n`, { mode: 0o644 });
    return path;
  }

  /** Bytes used by each disk-backed emptyDir with a size limit, to evict a pod that grows past it. */
  async emptyDirUsage(spec: PodSpec): Promise<Array<{ volume: string; bytes: number; limit: number }>> {
    const out: Array<{ volume: string; bytes: number; limit: number }> = [];
    for (const v of spec.volumes ?? []) {
      const limit = sizeLimit(v);
      if (!v.emptyDir || v.emptyDir.medium === 'Memory' || !limit) continue;
      const du = await runTool(this.object, 'du', ['-s', '-B1', '--one-file-system', this.hostPath(v)]).catch(() => Buffer.from('0'));
      out.push({ volume: v.name, bytes: Number(du.toString().split(/\s/)[0] ?? 0), limit });
    }
    return out;
  }

  /** Removes everything of the pod on the node: unmounts its tmpfs volumes first, then its directory. */
  async tearDown(): Promise<void> {
    await removePodDir(this.dir, this.object);
  }
}

/** Room for a projected volume on its tmpfs: its files twice (an update writes the new set before the old goes). */
const tmpfsSize = (files: Projection): number => {
  let bytes = 0;
  for (const f of files.values()) bytes += f.data.length + 4096;
  return Math.max(1 << 20, 2 * bytes);
};

/**
 * `<volume>/<sub>`, made as a directory when missing and `create` allows, refused when it resolves outside the
 * volume (a symlink planted by the container must not reach the node's files).
 */
export async function safeSubPath(volume: string, root: string, sub: string, create: boolean): Promise<string> {
  if (sub.startsWith('/') || sub.split('/').includes('..')) throw mountError(volume, `subPath ${sub} must be a relative path inside the volume`);
  const target = join(root, sub);
  if (create && !(await lstat(target).catch(() => undefined))) await mkdir(target, { recursive: true, mode: 0o777 });
  const [realRoot, realTarget] = [await realpath(root), await realpath(target).catch(() => undefined)];
  if (!realTarget) throw mountError(volume, `subPath ${sub} does not exist in the volume`);
  if (realTarget !== realRoot && !realTarget.startsWith(`${realRoot}/`)) throw mountError(volume, `subPath ${sub} resolves to ${realTarget}, outside the volume`);
  return realTarget;
}

/** Removes a pod's directory on the node, unmounting what is mounted below it first. */
export async function removePodDir(dir: string, object: string): Promise<void> {
  await unmountBelow(dir, object);
  await rm(dir, { recursive: true, force: true });
}
