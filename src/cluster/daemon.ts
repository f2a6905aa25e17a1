/**
 * Entry point of the control plane's long-running processes, started detached by control-plane.ts:
 *   daemon.js apiserver --etcd-endpoints URL[,URL] --pki DIR --port N
 *   daemon.js scheduler --kubeconfig FILE
 *   daemon.js node --kubeconfig FILE --cri SOCKET --name NODE --logs DIR [--pods-dir DIR] [--host-ip IP] [--labels k=v,…] [--pod-cidr CIDR]
 * Each stops cleanly on SIGTERM (the node agent leaves its pods running, for the next agent to adopt).
 */
import { parseArgs } from 'node:util';
import { ApiServer, EtcdStore, NodeAgentStats, NodeAgentStreaming, pkiPaths, readToken } from '../api/index.js';
import { describeError } from '../errors.js';
import { KubeClient } from '../kube/index.js';
import { createLogger } from '../log.js';
import { Scheduler } from '../scheduler/index.js';
import { runNodeAgent } from '../node/index.js';

async function apiserver(args: string[]): Promise<() => Promise<void>> {
  const { values } = parseArgs({ args, options: { 'etcd-endpoints': { type: 'string' }, pki: { type: 'string' }, port: { type: 'string' } } });
  const endpoints = (values['etcd-endpoints'] ?? '').split(',').filter((e) => e !== '');
  if (endpoints.length === 0 || !values.pki) throw new Error('apiserver needs --etcd-endpoints and --pki');
  const pki = pkiPaths(values.pki);
  const store = new EtcdStore(endpoints);
  const server = new ApiServer({
    store, pki, token: readToken(pki), port: Number(values.port ?? 0), streaming: new NodeAgentStreaming(), nodeStats: new NodeAgentStats(), logger: createLogger('apiserver'),
  });
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

async function node(args: string[]): Promise<() => Promise<void>> {
  const { values } = parseArgs({
    args,
    options: {
      kubeconfig: { type: 'string' }, cri: { type: 'string' }, name: { type: 'string' }, logs: { type: 'string' }, 'pods-dir': { type: 'string' },
      'host-ip': { type: 'string' }, labels: { type: 'string' }, 'pod-cidr': { type: 'string' },
    },
  });
  if (!values.kubeconfig || !values.cri || !values.name || !values.logs) throw new Error('node needs --kubeconfig, --cri, --name and --logs');
  const log = createLogger('node-agent');
  const client = KubeClient.fromKubeconfig(values.kubeconfig);
  const labels = Object.fromEntries((values.labels ?? '').split(',').filter((kv) => kv.includes('=')).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  const node = await runNodeAgent({
    client, criSocket: values.cri, nodeName: values.name, hostIP: values['host-ip'] ?? '127.0.0.1', logsRoot: values.logs, labels, log,
    ...(values['pod-cidr'] ? { podCIDR: values['pod-cidr'] } : {}),
    ...(values['pods-dir'] ? { podsDir: values['pods-dir'] } : {}),
  });
  return async () => {
    await node.stop();
    client.close();
  };
}

const components: Record<string, (args: string[]) => Promise<() => Promise<void>>> = { apiserver, scheduler, node };

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
