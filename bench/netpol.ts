/**
 * bench/netpol: pod-to-pod TCP connect latency and throughput with and without NetworkPolicy, and how long a policy
 * change takes to be enforced. A cluster of one KataVmIsolation node (both runtimes on it) under temporary roots; the
 * netprobe image (this machine's Node.js and a small client/server, src/images/netprobe) in four pods: runc client
 * and server, VM client and server. Measured from inside the client pods, for runc→runc, runc→VM, VM→runc and VM→VM:
 * BENCH_CONNECTS TCP connects one after another (connect to the server's first byte), and BENCH_MB MiB pushed into a
 * sink (after an untimed warm-up round); first with no policy, then with 50 policies that select every pod both ways (the rule that admits the
 * traffic comes last). Then BENCH_CHANGES times: a deny policy created and deleted, and the time from the API's
 * answer to the first probe (every 20 ms, from the runc client, one clock with this process) that sees it enforced.
 * Prints p50/p90; asserts nothing.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { netprobeImageArchive, NETPROBE_IMAGE } from '../src/images/index.js';
import { KubeClient, type KubeObject } from '../src/kube/index.js';
import { resolvePaths } from '../src/paths.js';
import { waitUntil } from '../src/wait.js';
import { sandpod } from '../test/e2e/helpers.js';
import { kubectlVersions } from '../test/e2e/harness.js';
import { timeToEffect } from '../test/e2e/netprobe-watch.js';

const CONNECTS = Number(process.env['BENCH_CONNECTS'] ?? 200);
const MB = Number(process.env['BENCH_MB'] ?? 32);
const CHANGES = Number(process.env['BENCH_CHANGES'] ?? 10);
const root = mkdtempSync(join(tmpdir(), 'sandpod-bench-netpol-'));
const roots = ['--state-dir', join(root, 'state'), '--run-dir', join(root, 'run')];
const kubeconfig = join(root, 'state', 'clusters', 'local', 'bench', 'kubeconfig');
const NS = 'bench';

async function sp(args: string[]): Promise<string> {
  const r = await sandpod([...args, ...roots], process.env, undefined, 600_000);
  if (r.code !== 0) throw new Error(`sandpod ${args.join(' ')} failed:\n${r.stderr}`);
  return r.stdout;
}

const kubectlArgv = [kubectlVersions['1.32']!, '--kubeconfig', kubeconfig, '--cache-dir', join(root, 'kc')];

function kubectl(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(kubectlArgv[0]!, [...kubectlArgv.slice(1), ...args], { timeout: 600_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`kubectl ${args.join(' ')}: ${stderr}`));
      else resolve(stdout);
    });
  });
}

const pod = (name: string, vm: boolean, role: string): KubeObject => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: NS, labels: { role, runtime: vm ? 'vm' : 'runc' } },
  spec: {
    ...(vm ? { runtimeClassName: 'kata-vm-isolation' } : {}), terminationGracePeriodSeconds: 0,
    // Ready once it listens (a VM pod's server starts a while after its container does, under TCG).
    containers: [{
      name: 'netprobe', image: NETPROBE_IMAGE, command: ['netprobe', 'serve', '--tcp', '80', '--udp', '80', '--sink', '5001'],
      readinessProbe: { tcpSocket: { port: 80 }, periodSeconds: 1 },
    }],
  },
});

const percentile = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((s.length - 1) * p))] ?? NaN;
};
const ms = (v: number): string => `${v.toFixed(2)} ms`;

interface PairResult { connect: number[]; failed: number; mibps: number }

async function measure(client: string, ip: string, connects = CONNECTS, mib = MB): Promise<PairResult> {
  const lat = JSON.parse(await kubectl(['exec', '-n', NS, client, '--', 'netprobe', 'latency', '--target', `${ip}:80`, '--count', String(connects), '--timeout', '3000'])) as { ms: number[]; failed: number };
  const tp = JSON.parse(await kubectl(['exec', '-n', NS, client, '--', 'netprobe', 'throughput', '--target', `${ip}:5001`, '--bytes', String(mib * 2 ** 20)])) as { bytes: number; ms: number };
  return { connect: lat.ms, failed: lat.failed, mibps: tp.bytes / 2 ** 20 / (tp.ms / 1000) };
}

async function main(): Promise<void> {
  const lines: string[] = [];
  try {
    await sp(['create', '--name', 'bench', '--node-count', '1', '--workload-runtime', 'KataVmIsolation', '--os-sku', 'AzureLinux', '--node-vm-size', 'Standard_D4s_v3', '-o', 'none']);
    const archive = await netprobeImageArchive(resolvePaths());
    await sp(['image', 'push', archive.archive, '--cluster', 'bench', '--name', NETPROBE_IMAGE]);
    const client = KubeClient.fromKubeconfig(kubeconfig);
    try {
      await client.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
      for (const [name, vm, role] of [['runc-client', false, 'client'], ['runc-server', false, 'server'], ['vm-client', true, 'client'], ['vm-server', true, 'server']] as const) {
        await client.create(`/api/v1/namespaces/${NS}/pods`, pod(name, vm, role));
      }
      await kubectl(['wait', '-n', NS, '--for=condition=Ready', 'pod', '--all', '--timeout=600s']);
      const ip = async (name: string): Promise<string> => kubectl(['get', 'pod', '-n', NS, name, '-o', 'jsonpath={.status.podIP}']);
      const servers = { runc: await ip('runc-server'), vm: await ip('vm-server') };
      const pairs = [['runc→runc', 'runc-client', 'runc'], ['runc→VM', 'runc-client', 'vm'], ['VM→runc', 'vm-client', 'runc'], ['VM→VM', 'vm-client', 'vm']] as const;
      const results: Record<string, Record<string, PairResult>> = { 'no policy': {}, '50 policies': {} };
      // One untimed round first: the first connections of a fresh pod (and of a new guest) pay for warming up.
      for (const [, from, to] of pairs) await measure(from, servers[to], 50, 4);
      for (const [label, from, to] of pairs) results['no policy']![label] = await measure(from, servers[to]);
      const base = `/apis/networking.k8s.io/v1/namespaces/${NS}/networkpolicies`;
      for (let i = 0; i < 49; i++) {
        await client.create(base, {
          apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: `p${String(i).padStart(2, '0')}` },
          spec: {
            podSelector: {}, policyTypes: ['Ingress', 'Egress'],
            ingress: [{ from: [{ podSelector: { matchLabels: { role: `other-${i}` } } }, { ipBlock: { cidr: `172.${16 + (i % 16)}.${i}.0/24` } }], ports: [{ port: 10_000 + i }, { protocol: 'UDP', port: 20_000 + i, endPort: 20_010 + i }] }],
            egress: [{ to: [{ namespaceSelector: { matchLabels: { team: `t${i}` } } }], ports: [{ port: 30_000 + i }] }],
          },
        });
      }
      await client.create(base, {
        apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'zz-allow-bench' },
        spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'], ingress: [{ from: [{ podSelector: { matchLabels: { role: 'client' } } }] }], egress: [{ to: [{ podSelector: { matchLabels: { role: 'server' } } }] }] },
      });
      // In force once the last policy is: only it lets a client reach a server, and the others keep a server from a client.
      const probe = async (from: string, to: string): Promise<boolean> =>
        (JSON.parse(await kubectl(['exec', '-n', NS, from, '--', 'netprobe', 'probe', '--timeout', '1000', `tcp:${to}:80`])) as Record<string, boolean>)[`tcp:${to}:80`] === true;
      const clientIp = await ip('runc-client');
      await waitUntil(async () => ((await probe('runc-client', servers.runc)) && !(await probe('runc-server', clientIp)) ? true : undefined),
        { timeoutMs: 60_000, intervalMs: 200, onTimeout: () => new Error('the 50 policies were not enforced within 60 s') });
      for (const [label, from, to] of pairs) results['50 policies']![label] = await measure(from, servers[to]);

      // A change's time to take effect, watched from the runc client against the runc server (one clock with us).
      const closed: number[] = [];
      const opened: number[] = [];
      const exec = [...kubectlArgv, 'exec', '-n', NS, 'runc-client'];
      const watch = (until: 'open' | 'closed', change: () => Promise<unknown>): Promise<number> => timeToEffect({ exec, target: `tcp:${servers.runc}:80`, until }, change);
      const deny = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'deny-server' }, spec: { podSelector: { matchLabels: { role: 'server' } }, policyTypes: ['Ingress'] } };
      await client.call('DELETE', `${base}`);
      for (let i = 0; i < CHANGES; i++) {
        closed.push(await watch('closed', () => client.create(base, deny)));
        opened.push(await watch('open', () => client.call('DELETE', `${base}/deny-server`)));
      }

      lines.push(`netpol: ${CONNECTS} connects and ${MB} MiB per pair, ${CHANGES} policy changes; one KataVmIsolation node (${process.env['BENCH_NOTE'] ?? 'QEMU under the machine\'s accelerator'})`);
      lines.push(`  ${'pair'.padEnd(10)} ${'policies'.padEnd(12)} ${'connect p50'.padEnd(14)} ${'connect p90'.padEnd(14)} ${'failed'.padEnd(7)} throughput`);
      for (const [set, byPair] of Object.entries(results)) {
        for (const [label, r] of Object.entries(byPair)) {
          lines.push(`  ${label.padEnd(10)} ${set.padEnd(12)} ${ms(percentile(r.connect, 0.5)).padEnd(14)} ${ms(percentile(r.connect, 0.9)).padEnd(14)} ${String(r.failed).padEnd(7)} ${r.mibps.toFixed(1)} MiB/s`);
        }
      }
      lines.push(`  policy created → enforced   p50 ${percentile(closed, 0.5)} ms  p90 ${percentile(closed, 0.9)} ms  (${closed.join(', ')})`);
      lines.push(`  policy deleted → lifted     p50 ${percentile(opened, 0.5)} ms  p90 ${percentile(opened, 0.9)} ms  (${opened.join(', ')})`);
    } finally {
      client.close();
    }
  } finally {
    await sandpod(['delete', '--name', 'bench', '--yes', ...roots], process.env, undefined, 600_000);
    await rm(root, { recursive: true, force: true });
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/netpol: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
