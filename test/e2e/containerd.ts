/**
 * A private containerd for tests, a frame over src/cluster/containerd.ts: its own config, root, state and
 * sockets under a temporary directory, stopped by PID. By default the CRI plugin is off (ctr-driven tests).
 * With `cri`, the CRI plugin serves runtime.v1 on the same socket with Sandpod's pause image, the runtime
 * handlers `runc` and `sandpod-vm`, and a CNI bridge network of its own (a unique bridge, a private 10.x /24,
 * host-local IPAM under the temporary directory, no masquerading). With `registry`, images of docker.io and
 * sandpod.local are pulled from that local registry. Everything it makes is removed by `cleanup()`, which
 * also reports what a test left behind.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile, stat, readFile, readdir, rmdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { RUNTIME_HANDLERS, startContainerd as startContainerdProcess, stopContainerd, type ManagedProcess, type RuntimeHandler } from '../../src/cluster/index.js';
import { PAUSE_IMAGE, type ImageArchive } from '../../src/images/index.js';
import { prepareBridgeNetwork } from '../../src/net/index.js';
import { runTool } from '../../src/run-tool.js';
import { waitUntil } from '../../src/wait.js';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { processesWhere, shimEnvironment } from './helpers.js';

export { RUNTIME_HANDLERS, type RuntimeHandler };

/** The CNI network a CRI containerd gives its pods. */
export interface TestPodNetwork {
  name: string;
  bridge: string;
  /** e.g. `10.213.7.0/24`; the bridge holds the gateway, `.1`. */
  subnet: string;
  gateway: string;
  contains(ip: string): boolean;
}

export interface TestCri {
  network: TestPodNetwork;
  /** The cgroup parent pods of this containerd go under (cgroupfs path); cleanup removes it. */
  cgroupParent: string;
  sandboxImage: string;
}

export interface TestContainerd {
  address: string;
  base: string;
  /** The containerd namespace ctr uses: `k8s.io` (CRI's) with CRI, else `sandpod-test`. */
  namespace: string;
  process: ManagedProcess;
  /** Set when started with CRI. */
  cri: TestCri | undefined;
  /** Registry host configuration for `ctr images pull --hosts-dir` (filled when started with a registry). */
  hostsDir: string;
  ctr(args: string[], input?: string): Promise<{ stdout: string; stderr: string }>;
  /** `ctr images import` into this containerd's namespace; the image is then visible to CRI. */
  importImage(image: ImageArchive): Promise<void>;
  /** A network namespace (a pod's) that must be gone once its pod is removed; cleanup checks and removes it. */
  trackNetns(path: string): void;
  /** Stops containerd (SIGTERM, then SIGKILL after 10 s). Shims of pods still running outlive it. */
  stop(): Promise<void>;
  /** Stops containerd and starts it again on the same configuration (which a test may have changed). */
  restart(): Promise<void>;
  /**
   * Stops containerd if needed, then removes what it and its pods left: shim and container processes, mounts
   * under its root, tracked network namespaces, container cgroups, and its bridge. Returns what was left
   * behind that should not have been (the bridge and the empty cgroup parent are expected); [] when clean.
   */
  cleanup(): Promise<string[]>;
}

export interface ContainerdOptions {
  /** Enable the CRI plugin with a CNI bridge network (see the module comment). */
  cri?: boolean;
  /** A local registry URL that docker.io and sandpod.local pulls go to. */
  registry?: string;
  /**
   * An operator's configuration file, used as it is: its root, state and socket must be under `base`
   * (`<base>/root`, `<base>/state`, `<base>/containerd.sock`) and, with `cri`, its CNI conf_dir `<base>/cni/net.d`.
   */
  configFile?: string;
}

const IP_FORWARD = '/proc/sys/net/ipv4/ip_forward';

/** A 10.x /24 that no address or route of this host overlaps, and a random bridge name. */
async function choosePodNetwork(): Promise<TestPodNetwork> {
  const inUse = (await runTool('test-network', 'ip', ['-4', '-o', 'addr'])).toString() + (await runTool('test-network', 'ip', ['-4', 'route', 'show', 'table', 'all'])).toString();
  for (let i = 0; i < 50; i++) {
    const [a, b] = randomBytes(2);
    const prefix = `10.${200 + ((a ?? 0) % 50)}.${b ?? 0}.`;
    if (inUse.includes(prefix)) continue;
    const id = randomBytes(4).toString('hex');
    return {
      name: `sandpod-test-${id}`, bridge: `spt${id}`, subnet: `${prefix}0/24`, gateway: `${prefix}1`,
      contains: (ip) => ip.startsWith(prefix) && /^\d+$/.test(ip.slice(prefix.length)),
    };
  }
  throw new Error('no free private 10.x /24 for the test pod network: this host uses them all');
}

/** The cgroup directories of `parent` in every hierarchy, children before their parents. */
async function cgroupDirs(parent: string): Promise<string[]> {
  const walk = async (dir: string): Promise<string[]> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => undefined);
    if (!entries) return [];
    const children = await Promise.all(entries.filter((e) => e.isDirectory()).map((e) => walk(join(dir, e.name))));
    return [...children.flat(), dir];
  };
  return (await Promise.all((await readdir('/sys/fs/cgroup')).map((h) => walk(join('/sys/fs/cgroup', h, parent))))).flat();
}

const cgroupProcesses = async (dirs: string[]): Promise<number[]> => [...new Set((await Promise.all(dirs.map((d) =>
  readFile(join(d, 'cgroup.procs'), 'utf8').catch(() => '')))).join('\n').split('\n').filter(Boolean).map(Number))];

/**
 * Kills what still runs in the cgroups under `parent` and removes them. Container cgroups still there (and
 * their processes) are reported; the parent itself is expected to remain after its pods, and is just removed.
 */
async function removeCgroups(parent: string): Promise<string[]> {
  const left: string[] = [];
  const dirs = await cgroupDirs(parent);
  const pids = await cgroupProcesses(dirs);
  for (const pid of pids) {
    left.push(`container process ${pid}: ${(await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' ').trim()}`);
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone meanwhile */ }
  }
  await waitUntil(async () => ((await cgroupProcesses(dirs)).length === 0 ? true : undefined),
    { timeoutMs: 10_000, onTimeout: () => new Error(`processes in cgroup ${parent} survived SIGKILL`) });
  for (const dir of dirs) {
    if (!dir.endsWith(parent)) left.push(`cgroup ${dir}`);
    await rmdir(dir).catch((e: Error) => left.push(`cgroup ${dir} cannot be removed: ${e.message}`));
  }
  return left;
}

export async function startContainerd(base: string, env: NodeJS.ProcessEnv = process.env, opts: ContainerdOptions = {}): Promise<TestContainerd> {
  const namespace = opts.cri ? 'k8s.io' : 'sandpod-test';
  let cri: TestCri | undefined;
  let ipForward: string | undefined;
  const cniConfDir = join(base, 'cni', 'net.d');
  if (opts.cri) {
    const network = await choosePodNetwork();
    await prepareBridgeNetwork(cniConfDir, '10-sandpod-test.conflist', { ...network, dataDir: join(base, 'cni', 'ipam') });
    cri = { network, cgroupParent: `/sandpod-e2e-${network.bridge}`, sandboxImage: PAUSE_IMAGE };
    // Nothing here should turn on IPv4 forwarding; cleanup still puts the host's setting back if something did.
    ipForward = await readFile(IP_FORWARD, 'utf8');
  }
  const startOptions = {
    dir: base, env,
    ...(cri ? { cri: { sandboxImage: cri.sandboxImage, cniConfDir } } : {}),
    ...(opts.registry !== undefined ? { registry: opts.registry } : {}),
    ...(opts.configFile !== undefined ? { configFile: opts.configFile } : {}),
  };
  let containerd = await startContainerdProcess(startOptions);
  const { address } = containerd;
  const netnses = new Set<string>();
  const ctr = (args: string[], input?: string) => new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
    const c = execFile('ctr', ['--address', address, '--namespace', namespace, ...args], { maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(Object.assign(err, { stdout, stderr }));
      else resolve({ stdout, stderr });
    });
    // A command that exits without reading its stdin must not fail the caller with EPIPE.
    c.stdin?.on('error', () => undefined);
    c.stdin?.end(input ?? '');
  });
  const stop = (): Promise<void> => stopContainerd(containerd);
  const restart = async (): Promise<void> => {
    await stop();
    containerd = await startContainerdProcess(startOptions);
    result.process = containerd.process;
  };
  const result: TestContainerd = {
    address, base, namespace, process: containerd.process, cri, ctr, stop, restart, hostsDir: containerd.layout.hostsDir,
    importImage: async (image) => { await ctr(['images', 'import', image.archive]); },
    // /var/run is a link to /run: keep the path as /proc/self/mountinfo spells it.
    trackNetns: (path) => { netnses.add(path.replace(/^\/var\/run\//, '/run/')); },
    cleanup: async () => {
      await stop();
      const left: string[] = [];
      // A shim may be on its way out as containerd stops: give processes a moment before calling them left over.
      const mine = (): Promise<number[]> => processesWhere((cmd) => cmd.includes(base));
      await waitUntil(async () => ((await mine()).length === 0 ? true : undefined), { timeoutMs: 3_000, intervalMs: 100, onTimeout: () => new Error() }).catch(() => undefined);
      for (const pid of await mine()) {
        const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' ').trim();
        if (!cmdline) continue; // exited (a zombie awaiting its parent) between the listing and now
        left.push(`process ${pid}: ${cmdline}`);
        try { process.kill(pid, 'SIGKILL'); } catch { /* gone meanwhile */ }
      }
      // runc puts ctr's containers under a cgroup named after the containerd namespace.
      left.push(...(await removeCgroups(cri ? cri.cgroupParent : `/${namespace}`)));
      const mounts = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').map((l) => l.split(' ')[4] ?? '')
        .filter((m) => m.startsWith(`${base}/`) || netnses.has(m)).reverse();
      for (const m of mounts) {
        left.push(`mount ${m}`);
        await runTool('test-cleanup', 'umount', ['-l', m]).catch(() => undefined);
      }
      for (const ns of netnses) {
        if (await stat(ns).then(() => true, () => false)) left.push(`netns ${ns}`);
        await rm(ns, { force: true });
      }
      if (cri) {
        // A pod's veth goes when the kernel destroys its namespace, which happens asynchronously.
        const ports = async (): Promise<string[]> => (await runTool('test-cleanup', 'ip', ['-o', 'link', 'show', 'master', cri.network.bridge])
          .catch(() => Buffer.alloc(0))).toString().split('\n').filter(Boolean).map((l) => `bridge port ${l.split(':')[1]?.trim()}`);
        left.push(...(await waitUntil(async () => ((await ports()).length === 0 ? [] : undefined), { timeoutMs: 5_000, intervalMs: 100, onTimeout: () => new Error() })
          .catch(ports)));
        await runTool('test-cleanup', 'ip', ['link', 'delete', cri.network.bridge]).catch(() => undefined);
        if (ipForward !== undefined && (await readFile(IP_FORWARD, 'utf8')) !== ipForward) {
          left.push(`IPv4 forwarding was switched to ${(await readFile(IP_FORWARD, 'utf8')).trim()}: pod traffic could be routed off this machine`);
          await writeFile(IP_FORWARD, ipForward);
        }
      }
      return left;
    },
  };
  return result;
}

/**
 * A private containerd (CRI off) for a ctr-driven shim test: its shims are this checkout's and Sandpod's roots
 * sit under one temporary directory. After the test it is stopped, and nothing of its tasks (process, VM run
 * directory, share, mount) may be left.
 */
export async function shimTestContainerd(t: { after(fn: () => Promise<void>): void }, name: string): Promise<TestContainerd> {
  const base = await mkdtemp(join(tmpdir(), `sandpod-e2e-${name}-`));
  const containerd = await startContainerd(join(base, 'containerd'), await shimEnvironment(base));
  t.after(async () => {
    const left = await containerd.cleanup();
    await rmdir('/run/containerd/runc/sandpod-test').catch(() => undefined);
    const processes = await processesWhere((cmd) => cmd.includes(base));
    const mounts = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').map((l) => l.split(' ')[4] ?? '').filter((m) => m.startsWith(`${base}/`));
    left.push(
      ...processes.map((p) => `process ${p}`),
      ...(await readdir(join(base, 'run', 'sandboxes')).catch(() => [])).map((d) => `run dir ${d}`),
      ...(await readdir(join(base, 'run', 'shares')).catch(() => [])).map((d) => `share ${d}`),
      ...mounts.map((m) => `mount ${m}`),
    );
    // Whatever was reported goes, so a failed test does not leave VMs or mounts on the machine.
    for (const pid of processes) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    for (const m of mounts.reverse()) await runTool('test-cleanup', 'umount', ['-l', m]).catch(() => undefined);
    await rm(base, { recursive: true, force: true });
    assert.deepEqual(left, [], 'nothing of the tasks is left');
  });
  return containerd;
}
