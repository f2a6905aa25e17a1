/**
 * Entry point of the control plane's long-running processes, started detached by control-plane.ts:
 *   daemon.js apiserver --etcd-endpoints URL[,URL] --pki DIR --port N
 *   daemon.js scheduler --kubeconfig FILE
 * Each stops cleanly on SIGTERM.
 */
import { parseArgs } from 'node:util';
import { ApiServer, EtcdStore, NodeAgentStreaming, pkiPaths, readToken } from '../api/index.js';
import { describeError } from '../errors.js';
import { KubeClient } from '../kube/index.js';
import { createLogger } from '../log.js';
import { Scheduler } from '../scheduler/index.js';

async function apiserver(args: string[]): Promise<() => Promise<void>> {
  const { values } = parseArgs({ args, options: { 'etcd-endpoints': { type: 'string' }, pki: { type: 'string' }, port: { type: 'string' } } });
  const endpoints = (values['etcd-endpoints'] ?? '').split(',').filter((e) => e !== '');
  if (endpoints.length === 0 || !values.pki) throw new Error('apiserver needs --etcd-endpoints and --pki');
  const pki = pkiPaths(values.pki);
  const store = new EtcdStore(endpoints);
  const server = new ApiServer({ store, pki, token: readToken(pki), port: Number(values.port ?? 0), streaming: new NodeAgentStreaming(), logger: createLogger('apiserver') });
  await server.start();
  return async () => {
    await server.close();
    store.close();
  };
}

async function scheduler(args: string[]): Promise<() => Promise<void>> {
  const { values } = parseArgs({ args, options: { kubeconfig: { type: 'string' } } });
  if (!values.kubeconfig) throw new Error('scheduler needs --kubeconfig');
  const client = KubeClient.fromKubeconfig(values.kubeconfig);
  const s = new Scheduler(client, { logger: createLogger('scheduler') });
  await s.start();
  return async () => {
    s.stop();
    client.close();
  };
}

const components: Record<string, (args: string[]) => Promise<() => Promise<void>>> = { apiserver, scheduler };

async function main(): Promise<void> {
  const [name, ...args] = process.argv.slice(2);
  const run = components[name ?? ''];
  if (!run) throw new Error(`unknown component "${name ?? ''}"; expected one of: ${Object.keys(components).join(', ')}`);
  const stop = await run(args);
  const shutdown = (): void => {
    void stop().finally(() => process.exit(0));
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

main().catch((err: unknown) => {
  process.stderr.write(`sandpod ${process.argv[2] ?? ''}: ${describeError(err)}\n`);
  process.exit(1);
});
