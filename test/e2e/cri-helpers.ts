/**
 * CRI end-to-end helpers: a private containerd with CRI and a CNI bridge, the pause and busybox images
 * imported, a CriClient on it, and the pod and container setup a kubelet would do, so the runc test and a
 * `sandpod-vm` variant share one path. Every pod's network namespace is tracked, and the frame's cleanup
 * removes all pods, stops containerd and fails the file if anything was left behind.
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CriClient, type ContainerState, type ContainerStatus, type Device, type Input, type NamespaceOption, type LinuxContainerResources, type LinuxContainerSecurityContext, type Mount,
  type PodSandboxConfig, type PodSandboxStatus,
} from '../../src/cri/index.js';
import { busyboxImageArchive, pauseImageArchive, BUSYBOX_IMAGE, type ImageArchive } from '../../src/images/index.js';
import { createLogger } from '../../src/log.js';
import { resolvePaths } from '../../src/paths.js';
import { waitUntil } from '../../src/wait.js';
import { startContainerd, type RuntimeHandler, type TestContainerd, type TestPodNetwork } from './containerd.js';

export interface CriTestContext {
  base: string;
  containerd: TestContainerd;
  cri: CriClient;
  network: TestPodNetwork;
}

export interface CriTestOptions {
  /** containerd's environment, e.g. a PATH that finds containerd-shim-sandpod-v2 and SANDPOD_* roots. */
  env?: NodeJS.ProcessEnv;
  /** Images to import besides the pause and busybox images. */
  images?: ImageArchive[];
  /**
   * A local registry URL: docker.io and sandpod.local images are pulled from it, and the pause and busybox
   * images are not imported (CRI pulls the pause image from the registry when a pod starts).
   */
  registry?: string;
  /** Writes an operator's own configuration for the containerd in `dir` and returns its path (see ContainerdOptions.configFile). */
  containerdConfig?: (dir: string) => Promise<string>;
}

/** Starts a CRI containerd under `base`, imports the images and waits until CRI reports the runtime and network ready. */
export async function startCriContainerd(base: string, opts: CriTestOptions = {}): Promise<CriTestContext> {
  const builtIn = opts.registry === undefined ? [await pauseImageArchive(resolvePaths()), await busyboxImageArchive(resolvePaths())] : [];
  const images = [...builtIn, ...(opts.images ?? [])];
  const dir = join(base, 'containerd');
  const configFile = opts.containerdConfig ? await opts.containerdConfig(dir) : undefined;
  const containerd = await startContainerd(dir, opts.env, {
    cri: true, ...(opts.registry !== undefined ? { registry: opts.registry } : {}), ...(configFile ? { configFile } : {}),
  });
  const network = containerd.cri?.network;
  assert.ok(network, 'containerd was started with CRI');
  const cri = new CriClient(containerd.address, { log: createLogger('cri-test'), timeoutMs: 60_000 });
  const ctx = { base, containerd, cri, network };
  try {
    for (const image of images) await containerd.importImage(image);
    await waitUntil(async () => {
      const { status } = await cri.status({}, { timeoutMs: 2_000 }).catch(() => ({ status: null }));
      const ready = status?.conditions.filter((c) => c.status).map((c) => c.type) ?? [];
      return ready.includes('RuntimeReady') && ready.includes('NetworkReady') ? true : undefined;
    }, { timeoutMs: 20_000, intervalMs: 100, onTimeout: () => new Error('containerd CRI did not report RuntimeReady and NetworkReady within 20 s') });
  } catch (err) {
    await stopCriContainerd(ctx).catch(() => undefined);
    throw err;
  }
  return ctx;
}

/** Removes every pod (and so every container), stops containerd and returns what was left behind ([] when clean). */
export async function stopCriContainerd(ctx: CriTestContext): Promise<string[]> {
  const left: string[] = [];
  const pods = await ctx.cri.listPodSandbox().catch((e: Error) => { left.push(`cannot list pods: ${e.message}`); return { items: [] }; });
  for (const pod of pods.items) {
    await removeTestPod(ctx, pod.id).catch((e: Error) => left.push(`pod ${pod.id}: ${e.message}`));
  }
  ctx.cri.close();
  return [...left, ...(await ctx.containerd.cleanup())];
}

/**
 * The usual frame of a CRI test file: a CRI containerd before the tests, and after them every pod removed,
 * containerd stopped and a check that nothing (process, mount, netns, cgroup, bridge port) was left.
 */
export function criTestContext(name: string, opts: CriTestOptions = {}): CriTestContext {
  const ctx = {} as CriTestContext;
  before(async () => {
    ctx.base = await mkdtemp(join(tmpdir(), `sandpod-e2e-${name}-`));
    Object.assign(ctx, await startCriContainerd(ctx.base, opts));
  });
  after(async () => {
    const left = ctx.containerd ? await stopCriContainerd(ctx) : [];
    if (ctx.base) await rm(ctx.base, { recursive: true, force: true });
    assert.deepEqual(left, [], 'CRI pods left something behind');
  });
  return ctx;
}

export interface TestPod {
  id: string;
  config: Input<PodSandboxConfig>;
  status: PodSandboxStatus;
  /** The pod's IPv4 address from CNI. */
  ip: string;
  /** The network namespace CRI made for the pod (`<containerd state>/netns/cni-…`, see containerd.ts). */
  netns: string;
}

/** The network namespace path of a pod, from containerd's verbose PodSandboxStatus (its OCI runtime spec). */
async function podNetns(cri: CriClient, id: string): Promise<string> {
  const { info } = await cri.podSandboxStatus({ pod_sandbox_id: id, verbose: true });
  const spec = JSON.parse(info['info'] ?? '{}') as { runtimeSpec?: { linux?: { namespaces?: { type: string; path?: string }[] } } };
  const path = spec.runtimeSpec?.linux?.namespaces?.find((n) => n.type === 'network')?.path;
  assert.ok(path, `podSandbox/${id}: containerd's verbose status names no network namespace`);
  return path;
}

/** What a test pod may ask of the runtime besides its resources, set on the sandbox config as kubelet does. */
export interface TestPodOptions {
  /** The sandbox's security context says privileged (kubelet: any container of the pod is privileged). */
  privileged?: boolean;
  /** The pod's namespaced sysctls (`securityContext.sysctls`). */
  sysctls?: Record<string, string>;
  /** Pod annotations (containerd passes `sandpod.io/*` to the sandpod-vm runtime). */
  annotations?: Record<string, string>;
  /** Namespace modes over the pod network / own PID / pod IPC ones every test pod gets (hostNetwork is `network: 'NODE'`). */
  namespaces?: Input<NamespaceOption>;
}

/** RunPodSandbox as kubelet does for a pod on the pod network, with the given runtime handler. */
export async function runTestPod(ctx: CriTestContext, name: string, runtimeHandler: RuntimeHandler, resources?: Input<LinuxContainerResources>, opts: TestPodOptions = {}): Promise<TestPod> {
  const uid = randomUUID();
  const logDirectory = join(ctx.base, 'pods', uid);
  await mkdir(logDirectory, { recursive: true });
  const config: Input<PodSandboxConfig> = {
    metadata: { name, namespace: 'sandpod-e2e', uid, attempt: 0 },
    hostname: name,
    log_directory: logDirectory,
    labels: { 'sandpod.test/pod': name },
    annotations: opts.annotations ?? {},
    linux: {
      cgroup_parent: ctx.containerd.cri?.cgroupParent ?? '',
      ...(resources ? { resources } : {}),
      sysctls: opts.sysctls ?? {},
      security_context: { namespace_options: { network: 'POD', pid: 'CONTAINER', ipc: 'POD', ...opts.namespaces }, privileged: opts.privileged ?? false },
    },
  };
  const { pod_sandbox_id: id } = await ctx.cri.runPodSandbox({ config, runtime_handler: runtimeHandler });
  const netns = await podNetns(ctx.cri, id);
  ctx.containerd.trackNetns(netns);
  const { status } = await ctx.cri.podSandboxStatus({ pod_sandbox_id: id });
  assert.ok(status, `podSandbox/${id}: PodSandboxStatus has no status`);
  return { id, config, status, ip: status.network?.ip ?? '', netns };
}

export interface TestContainerSpec {
  name: string;
  /** Default: the busybox test image. */
  image?: string;
  command: string[];
  args?: string[];
  resources?: Input<LinuxContainerResources>;
  /** Merged over the pod-network, private-PID namespace options every test container gets. */
  securityContext?: Input<LinuxContainerSecurityContext>;
  labels?: Record<string, string>;
  /** Keep stdin open (and give the container a terminal), for attach. */
  stdin?: boolean;
  tty?: boolean;
  /** The restart count, as kubelet numbers a container's instances. Default 0. */
  attempt?: number;
  /** Relative to the pod's log directory. Default `<name>.log`. */
  logPath?: string;
  /** Volumes, as kubelet sends them: a host path at a container path. */
  mounts?: Input<Mount>[];
  devices?: Input<Device>[];
  annotations?: Record<string, string>;
}

/** CreateContainer in a pod (not started). */
export async function createTestContainer(ctx: CriTestContext, pod: TestPod, spec: TestContainerSpec): Promise<string> {
  const { container_id: id } = await ctx.cri.createContainer({
    pod_sandbox_id: pod.id,
    sandbox_config: pod.config,
    config: {
      metadata: { name: spec.name, attempt: spec.attempt ?? 0 },
      image: { image: spec.image ?? BUSYBOX_IMAGE },
      command: spec.command,
      args: spec.args ?? [],
      labels: spec.labels ?? {},
      stdin: spec.stdin ?? false,
      tty: spec.tty ?? false,
      log_path: spec.logPath ?? `${spec.name}.log`,
      mounts: spec.mounts ?? [],
      devices: spec.devices ?? [],
      annotations: spec.annotations ?? {},
      linux: {
        security_context: { namespace_options: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' }, ...spec.securityContext },
        ...(spec.resources ? { resources: spec.resources } : {}),
      },
    },
  });
  return id;
}

/** CreateContainer + StartContainer in a pod; resolves when ContainerStatus says running (or already exited). */
export async function startTestContainer(ctx: CriTestContext, pod: TestPod, spec: TestContainerSpec): Promise<string> {
  const id = await createTestContainer(ctx, pod, spec);
  await ctx.cri.startContainer({ container_id: id });
  await waitContainerState(ctx.cri, id, ['CONTAINER_RUNNING', 'CONTAINER_EXITED']);
  return id;
}

/** Polls ContainerStatus until the container is in one of `states`. */
export function waitContainerState(cri: CriClient, id: string, states: ContainerState[], timeoutMs = 30_000): Promise<ContainerStatus> {
  let last = 'no status';
  return waitUntil(async () => {
    const { status } = await cri.containerStatus({ container_id: id });
    last = `${status?.state} ${status?.reason} ${status?.message}`;
    return status && states.includes(status.state) ? status : undefined;
  }, { timeoutMs, intervalMs: 50, onTimeout: () => new Error(`container/${id} did not reach ${states.join(' or ')} within ${timeoutMs} ms (last: ${last})`) });
}

/** StopPodSandbox then RemovePodSandbox, as kubelet ends a pod (containers go with it). */
export async function removeTestPod(ctx: CriTestContext, id: string): Promise<void> {
  await ctx.cri.stopPodSandbox({ pod_sandbox_id: id });
  await ctx.cri.removePodSandbox({ pod_sandbox_id: id });
}

/** `sh -c SCRIPT` in a container through ExecSync: its output and code, asserting success, or asserting failure with a reason. */
export function shellIn(ctx: CriTestContext): {
  sh(id: string, script: string): Promise<{ out: string; code: number }>;
  ok(id: string, script: string): Promise<string>;
  fails(id: string, script: string, why: RegExp): Promise<void>;
} {
  const sh = async (id: string, script: string): Promise<{ out: string; code: number }> => {
    const r = await ctx.cri.execSync({ container_id: id, cmd: ['sh', '-c', script], timeout: 60 });
    return { out: r.stdout.toString() + r.stderr.toString(), code: r.exit_code };
  };
  return {
    sh,
    ok: async (id, script) => {
      const r = await sh(id, script);
      assert.equal(r.code, 0, `${script}: ${r.out}`);
      return r.out;
    },
    fails: async (id, script, why) => {
      const r = await sh(id, script);
      assert.notEqual(r.code, 0, `${script} should fail: ${r.out}`);
      assert.match(r.out, why, script);
    },
  };
}
