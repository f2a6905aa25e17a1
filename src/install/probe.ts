/**
 * Can this node run Sandpod's VM pods? The facts `node install` checks before it changes anything: the
 * architecture, the Node.js that runs the shim, the host tools the shim uses, containerd's version, and
 * what the CPU offers for virtualization (KVM, nested virtualization, or TCG emulation as the fallback).
 * The accelerator verdict itself comes from a probe guest (src/vmm), which the caller runs.
 */
import { access, constants, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runTool } from '../run-tool.js';

/** Node.js the shim needs (package.json engines). */
export const MIN_NODE = [20, 15] as const;
export const NODE_HINT = 'install Node.js 20.15 or newer on the node (the official binaries from nodejs.org unpacked into /usr/local, or a distribution package of 20.15+; Debian 12\'s nodejs is 18.x, too old), or name one with --node PATH';

/** Host programs the shim runs, and the Debian package each comes from. */
export const HOST_TOOLS: [string, string][] = [
  ['qemu-system-x86_64', 'qemu-system-x86'], ['ip', 'iproute2'], ['tc', 'iproute2'], ['nft', 'nftables'], ['sysctl', 'procps'],
  ['nsenter', 'util-linux'], ['mount', 'mount'], ['umount', 'mount'],
];

export interface NodeFacts {
  arch: string;
  node?: { path: string; version: string; ok: boolean };
  missingTools: { tool: string; pkg: string }[];
  containerd?: { version: string; supported: boolean };
  kvmDevice: boolean;
  /** The node is itself a virtual machine (the CPU's hypervisor flag). */
  isVm: boolean;
  /** The CPU offers VT-x or AMD-V (on a VM: nested virtualization is enabled). */
  virtExtensions: boolean;
}

export async function which(bin: string, path = process.env['PATH'] ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'): Promise<string | undefined> {
  for (const dir of path.split(':').filter(Boolean)) {
    const p = join(dir, bin);
    if (await access(p, constants.X_OK).then(() => true, () => false)) return p;
  }
  return undefined;
}

export function nodeVersionOk(version: string): boolean {
  const m = /^v?(\d+)\.(\d+)/.exec(version);
  if (!m) return false;
  const [major, minor] = [Number(m[1]), Number(m[2])];
  return major > MIN_NODE[0] || (major === MIN_NODE[0] && minor >= MIN_NODE[1]);
}

/** `containerd --version` → `1.6.20~ds1`; only 1.6 and 1.7 speak the config this install writes (version 2). */
export function parseContainerdVersion(out: string): { version: string; supported: boolean } | undefined {
  const m = /\s(v?(\d+)\.(\d+)\.\S+)/.exec(out);
  if (!m) return undefined;
  return { version: m[1]!.replace(/^v/, ''), supported: m[2] === '1' && (m[3] === '6' || m[3] === '7') };
}

export async function probeNode(o: { node?: string; containerd: string }): Promise<NodeFacts> {
  const cpuinfo = await readFile('/proc/cpuinfo', 'utf8').catch(() => '');
  const flags = new Set((/^flags\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? '').split(/\s+/));
  const nodePath = o.node ?? (await which('node'));
  let node: NodeFacts['node'];
  if (nodePath) {
    const version = (await runTool('node', nodePath, ['--version']).catch(() => Buffer.from('unknown'))).toString().trim();
    node = { path: nodePath, version, ok: nodeVersionOk(version) };
  }
  const missingTools: NodeFacts['missingTools'] = [];
  for (const [tool, pkg] of HOST_TOOLS) if (!(await which(tool))) missingTools.push({ tool, pkg });
  const containerdOut = await runTool('containerd', o.containerd, ['--version']).then((b) => b.toString(), () => '');
  const containerd = parseContainerdVersion(containerdOut);
  return {
    arch: process.arch,
    ...(node ? { node } : {}),
    missingTools,
    ...(containerd ? { containerd } : {}),
    kvmDevice: await access('/dev/kvm', constants.R_OK | constants.W_OK).then(() => true, () => false),
    isVm: flags.has('hypervisor'),
    virtExtensions: flags.has('vmx') || flags.has('svm'),
  };
}

/** Why this node cannot run the shim at all (empty: it can), each with what to do. */
export function refusals(f: NodeFacts, containerdBinary: string): string[] {
  const out: string[] = [];
  if (f.arch !== 'x64') out.push(`this node is ${f.arch}; Sandpod's guest kernel and QEMU machine are x86-64 only`);
  if (!f.node) out.push(`no Node.js found on the PATH: the shim runs on Node.js; ${NODE_HINT}`);
  else if (!f.node.ok) out.push(`${f.node.path} is Node.js ${f.node.version}, older than ${MIN_NODE.join('.')}; ${NODE_HINT}`);
  for (const t of f.missingTools) out.push(`${t.tool} is missing: the shim runs it; install it (Debian package ${t.pkg})`);
  if (!f.containerd) out.push(`cannot run ${containerdBinary} --version: is containerd installed? Name its binary with --containerd-binary`);
  else if (!f.containerd.supported) out.push(`containerd ${f.containerd.version} is not supported: this install writes containerd 1.6/1.7 configuration (version 2)`);
  return out;
}

/** One line on what the CPU offers, for the install's report and for a refusal. */
export function virtualizationSummary(f: NodeFacts): string {
  const where = f.isVm ? 'this node is a virtual machine' : 'this node is not a virtual machine';
  const ext = f.virtExtensions ? 'its CPU offers VT-x/AMD-V' : `its CPU offers no VT-x/AMD-V${f.isVm ? ' (nested virtualization is not enabled for it)' : ''}`;
  return `${where}; ${ext}; /dev/kvm is ${f.kvmDevice ? 'present' : 'absent'}`;
}
