/**
 * Driving `kubectl port-forward` from a test: start it, learn the local port it listens on, fetch through it
 * with Node's HTTP client, stop it. Also the kubectl versions whose port-forward protocols differ.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { waitUntil } from '../../src/wait.js';

/**
 * kubectl 1.30 speaks SPDY/3.1 to the API server; 1.31 and later tunnel SPDY through a WebSocket
 * (`SPDY/3.1+portforward.k8s.io`) and fall back to SPDY when the upgrade fails. Versions not installed are left out.
 */
export const portForwardKubectls: Record<string, string> = Object.fromEntries(['1.30', '1.31', '1.32', '1.33']
  .map((v) => [v, `/usr/lib/google-cloud-sdk/bin/kubectl.${v}`] as const)
  .filter(([, binary]) => existsSync(binary)));

export interface PortForward {
  localPort: number;
  /** What kubectl printed so far, stdout and stderr together. */
  output(): string;
  /** Resolves with kubectl's exit code once it has exited. */
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

/** Runs `kubectl … port-forward <args>` with one `[LOCAL]:REMOTE` spec and resolves once it listens. */
export async function startPortForward(binary: string, kubectlArgs: string[], env: NodeJS.ProcessEnv = process.env): Promise<PortForward> {
  const child: ChildProcess = spawn(binary, kubectlArgs, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let done = false;
  void exited.then(() => { done = true; });
  const localPort = await waitUntil(() => {
    const m = /Forwarding from 127\.0\.0\.1:(\d+) ->/.exec(out);
    return m ? Number(m[1]) : undefined;
  }, {
    timeoutMs: 60_000, intervalMs: 50,
    abort: () => (done ? new Error(`kubectl port-forward exited before listening: ${out}`) : undefined),
    onTimeout: () => new Error(`kubectl port-forward did not listen within 60 s: ${out}`),
  });
  return {
    localPort, exited,
    output: () => out,
    stop: async () => {
      if (!done) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** GET http://127.0.0.1:<port><path> on a connection of its own; the status and the body. */
export function httpGet(port: number, path: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, timeout: 60_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} through 127.0.0.1:${port} timed out`)));
    req.on('error', reject);
    req.end();
  });
}
