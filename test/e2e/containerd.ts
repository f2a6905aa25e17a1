/**
 * A private containerd for tests: its own config, root, state and sockets under a temporary directory, the
 * CRI plugin off, stopped by PID. The shim and node-agent tests will grow it into src/ when they need CRI.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { waitUntil } from '../../src/wait.js';

export interface TestContainerd { address: string; base: string; process: ChildProcess; ctr(args: string[], input?: string): Promise<{ stdout: string; stderr: string }>; stop(): Promise<void> }

export async function startContainerd(base: string, env: NodeJS.ProcessEnv = process.env): Promise<TestContainerd> {
  await mkdir(base, { recursive: true });
  const address = join(base, 'containerd.sock');
  const config = join(base, 'config.toml');
  await writeFile(config, [
    'version = 2',
    `root = "${join(base, 'root')}"`,
    `state = "${join(base, 'state')}"`,
    'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
    '[grpc]', `  address = "${address}"`,
    '[ttrpc]', `  address = "${address}.ttrpc"`,
    '',
  ].join('\n'));
  const proc = spawn('containerd', ['--config', config, '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'pipe'], env });
  let log = '';
  proc.stderr?.on('data', (d: Buffer) => { log = (log + d.toString()).slice(-4000); });
  const exited = new Promise<void>((resolve) => proc.once('close', () => resolve()));
  await waitUntil(async () => (await stat(address).then(() => true, () => undefined)), {
    timeoutMs: 20_000,
    abort: () => (proc.exitCode !== null ? new Error(`containerd exited: ${log}`) : undefined),
    onTimeout: () => new Error(`containerd did not create ${address}: ${log}`),
  });
  return {
    address, base, process: proc,
    ctr: (args, input) => new Promise((resolve, reject) => {
      const c = execFile('ctr', ['--address', address, '--namespace', 'sandpod-test', ...args], { maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
        if (err) reject(Object.assign(err, { stdout, stderr }));
        else resolve({ stdout, stderr });
      });
      c.stdin?.end(input ?? '');
    }),
    stop: async () => {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
