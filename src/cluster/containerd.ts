/**
 * A private containerd for a node (and for tests): its configuration, root, state, sockets, runc root,
 * registry hosts and log all under one directory, started detached and stopped by PID, so it never meets
 * the machine's own containerd. With CRI, it serves runtime.v1 on its socket with the runtime handlers
 * `runc` and `sandpod-vm` and the CNI configuration of a given directory. With a local registry, image pulls
 * for `docker.io` and `sandpod.local` go to that registry over plain HTTP, and nowhere else.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { failedPrecondition } from '../errors.js';
import { createLogger, type Logger } from '../log.js';
import { isAlive, startProcess, stopProcess, waitUntil, type ManagedProcess } from './processes.js';

/** The runtime handlers of the CRI configuration: RunPodSandbox's `runtime_handler` names one of them. */
export const RUNTIME_HANDLERS = { runc: 'io.containerd.runc.v2', 'sandpod-vm': 'io.containerd.sandpod.v2' } as const;
export type RuntimeHandler = keyof typeof RUNTIME_HANDLERS;

/** The registry hosts the local registry stands in for (see docs/images.md). */
export const MIRRORED_HOSTS = ['docker.io', 'sandpod.local', 'mcr.microsoft.com'] as const;

/** Where Debian's containernetworking-plugins puts the CNI plugins. */
export const CNI_BIN_DIR = '/usr/lib/cni';

export const containerdBinary = process.env['SANDPOD_CONTAINERD_BINARY'] ?? 'containerd';

export interface ContainerdCriOptions {
  /** The pod sandbox image, e.g. Sandpod's `sandpod.local/pause:3.9`. */
  sandboxImage: string;
  /** The directory CRI reads its CNI network configuration from. */
  cniConfDir: string;
}

export interface ContainerdOptions {
  /** Everything of this containerd lives under it. */
  dir: string;
  /** The gRPC socket (and `<socket>.ttrpc`), when `dir` is too deep for a unix socket path (107 bytes at most). */
  socket?: string;
  /** Enable the CRI plugin (off: only containerd's own API, for ctr). */
  cri?: ContainerdCriOptions;
  /** A local registry URL (`http://127.0.0.1:PORT`) to pull `docker.io` and `sandpod.local` images from. */
  registry?: string;
  /** Run with this configuration file as it is (an operator's, for `node install` tests) instead of writing one. */
  configFile?: string;
}

export interface ContainerdLayout {
  dir: string;
  configFile: string;
  /** The gRPC socket (containerd's API and CRI). */
  address: string;
  root: string;
  state: string;
  /** runc's state root for CRI's `runc` handler. */
  runcRoot: string;
  /** Registry host configuration (`<host>/hosts.toml`), for CRI's `config_path` and `ctr … pull --hosts-dir`. */
  hostsDir: string;
  logFile: string;
}

export function containerdLayout(dir: string, socket?: string): ContainerdLayout {
  return {
    dir,
    configFile: join(dir, 'config.toml'),
    address: socket ?? join(dir, 'containerd.sock'),
    root: join(dir, 'root'),
    state: join(dir, 'state'),
    runcRoot: join(dir, 'runc'),
    hostsDir: join(dir, 'certs.d'),
    logFile: join(dir, 'containerd.log'),
  };
}

const toml = (s: string): string => JSON.stringify(s);

/**
 * The sandpod-vm handler's CRI options. A privileged container gets no host device in its spec (CRI adds
 * only the devices the container names, and the shim refuses host ones): privileged means the VM's own
 * devices and capabilities, never the node's. Pod and container annotations under `sandpod.io/` reach the
 * shim in the OCI specs (the node agent's `sandpod.io/memory-volumes`).
 */
const VM_RUNTIME_OPTIONS = [
  '  privileged_without_host_devices = true',
  '  pod_annotations = ["sandpod.io/*"]',
  '  container_annotations = ["sandpod.io/*"]',
];

function criConfig(layout: ContainerdLayout, cri: ContainerdCriOptions, registry: boolean): string[] {
  const plugin = 'plugins."io.containerd.grpc.v1.cri"';
  const runtimes = Object.entries(RUNTIME_HANDLERS).flatMap(([handler, type]) => [
    `[${plugin}.containerd.runtimes.${handler}]`, `  runtime_type = ${toml(type)}`,
    ...(handler === 'runc' ? [`[${plugin}.containerd.runtimes.runc.options]`, `  Root = ${toml(layout.runcRoot)}`] : []),
    ...(handler === 'sandpod-vm' ? VM_RUNTIME_OPTIONS : []),
  ]);
  return [
    `[${plugin}]`,
    `  sandbox_image = ${toml(cri.sandboxImage)}`,
    '  stream_server_address = "127.0.0.1"',
    '  stream_server_port = "0"',
    // CRI lowers the sandbox's oom_score_adj to -998, which needs CAP_SYS_RESOURCE; machines like this one run
    // without it. Restricted, containerd clamps scores to its own, which nothing of Sandpod depends on.
    '  restrict_oom_score_adj = true',
    // Pod network namespaces under this containerd's state directory, not the host's /run/netns: they belong to
    // the node, and whatever an interrupted RunPodSandbox leaves there goes when the node is taken down.
    '  netns_mounts_under_state_dir = true',
    `[${plugin}.containerd]`,
    '  default_runtime_name = "runc"',
    '  snapshotter = "overlayfs"',
    ...runtimes,
    `[${plugin}.cni]`,
    `  bin_dir = ${toml(CNI_BIN_DIR)}`,
    `  conf_dir = ${toml(cri.cniConfDir)}`,
    '  max_conf_num = 1',
    // hosts.toml rather than `registry.mirrors`: a mirror falls back to the real host (Docker Hub) for what it
    // lacks, while a hosts.toml whose `server` is the local registry sends nothing anywhere else.
    ...(registry ? [`[${plugin}.registry]`, `  config_path = ${toml(layout.hostsDir)}`] : []),
  ];
}

/** containerd's config.toml (version 2) for `opts`. */
export function containerdConfig(opts: ContainerdOptions): string {
  const layout = containerdLayout(opts.dir, opts.socket);
  return [
    'version = 2',
    `root = ${toml(layout.root)}`,
    `state = ${toml(layout.state)}`,
    ...(opts.cri ? [] : ['disabled_plugins = ["io.containerd.grpc.v1.cri"]']),
    '[grpc]', `  address = ${toml(layout.address)}`,
    '[ttrpc]', `  address = ${toml(`${layout.address}.ttrpc`)}`,
    // A removed container's snapshot is only marked in the metadata; its directory goes at the next garbage
    // collection, which by default runs after 100 mutations of any kind. Collect after every deletion instead
    // (pause_threshold still keeps collection under 2% of the time), so a node's disk comes back when its pods go
    // and not at some later pod's start.
    '[plugins."io.containerd.gc.v1.scheduler"]', '  deletion_threshold = 1',
    ...(opts.cri ? criConfig(layout, opts.cri, opts.registry !== undefined) : []),
    '',
  ].join('\n');
}

/**
 * A registry host's hosts.toml: every pull and resolve goes to `registryUrl`, over plain HTTP, and nowhere
 * else (`server` replaces the real host). containerd 1.6 rejects a file without a `host` table and then
 * falls back to the real host, so the registry is also its one `host` entry.
 */
export const registryHostsToml = (registryUrl: string): string =>
  [`server = ${toml(registryUrl)}`, '', `[host.${toml(registryUrl)}]`, '  capabilities = ["pull", "resolve"]', ''].join('\n');

/** Writes config.toml and, with a registry, one hosts.toml per mirrored host. */
export async function writeContainerdConfig(opts: ContainerdOptions): Promise<ContainerdLayout> {
  const layout = { ...containerdLayout(opts.dir, opts.socket), ...(opts.configFile ? { configFile: opts.configFile } : {}) };
  await mkdir(layout.dir, { recursive: true });
  if (!opts.configFile) await writeFile(layout.configFile, containerdConfig(opts));
  if (opts.registry !== undefined) {
    for (const host of MIRRORED_HOSTS) {
      await mkdir(join(layout.hostsDir, host), { recursive: true });
      await writeFile(join(layout.hostsDir, host, 'hosts.toml'), registryHostsToml(opts.registry));
    }
  }
  return layout;
}

export interface RunningContainerd {
  layout: ContainerdLayout;
  /** The gRPC socket. */
  address: string;
  process: ManagedProcess;
}

export interface ContainerdStartOptions extends ContainerdOptions {
  /** containerd's environment: its shims inherit it (PATH to find containerd-shim-sandpod-v2, SANDPOD_* roots). */
  env?: NodeJS.ProcessEnv;
  /** Run containerd (and so its shims and CNI plugins) in this network namespace (a path under /run/netns). */
  netns?: string;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  logger?: Logger;
}

/** Writes the configuration, starts containerd and waits for its socket; fails naming its log if it exits. */
export async function startContainerd(opts: ContainerdStartOptions): Promise<RunningContainerd> {
  const layout = await writeContainerdConfig(opts);
  const argv = [containerdBinary, '--config', layout.configFile, '--log-level', opts.logLevel ?? 'warn'];
  const [command, ...args] = opts.netns ? ['nsenter', `--net=${opts.netns}`, '--', ...argv] : argv;
  const proc = startProcess('containerd', command!, args, layout.logFile, opts.env ?? process.env);
  try {
    await waitUntil(`containerd's socket ${layout.address} (log: ${layout.logFile})`, async () => {
      if (!isAlive(proc.pid)) throw failedPrecondition(`containerd ${layout.dir}`, `containerd exited during startup: ${logTail(layout.logFile)}; see ${layout.logFile}`);
      return stat(layout.address).then(() => true, () => undefined);
    }, 20_000, 50);
  } catch (err) {
    await stopContainerd({ process: proc });
    throw err;
  }
  (opts.logger ?? createLogger('containerd')).info('containerd started', { object: `containerd ${layout.dir}`, pid: proc.pid, address: layout.address, cri: opts.cri !== undefined, registry: opts.registry });
  return { layout, address: layout.address, process: proc };
}

/** SIGTERM, SIGKILL after `graceMs`, and waits until the process is gone. Shims of running tasks outlive it. */
export async function stopContainerd(containerd: { process: { pid: number } }, graceMs = 10_000): Promise<void> {
  const { pid } = containerd.process;
  await stopProcess(pid, graceMs);
  await waitUntil(`containerd pid ${pid} to exit`, () => !isAlive(pid) || undefined, 5_000, 20);
}

function logTail(file: string): string {
  return existsSync(file) ? readFileSync(file, 'utf8').trim().slice(-600) || 'no output' : 'no output';
}
