/**
 * Entry point of a cluster's long-running Node.js processes, started detached by src/cluster:
 *   daemon.js apiserver --etcd-endpoints URL[,URL] --pki DIR --port N [--extra-host IP]…
 *   daemon.js scheduler --kubeconfig FILE
 *   daemon.js controller-manager --kubeconfig FILE
 *   daemon.js node --kubeconfig FILE --cri SOCKET --name NODE --logs DIR [--pods-dir DIR] [--host-ip IP] [--labels k=v,…]
 *                  [--taints k=v:Effect,…] [--capacity cpu=N,memory=BYTES,pods=N] [--pod-cidr CIDR] [--pod-bridge BRIDGE]
 *   daemon.js supervisor --run-dir DIR
 * Each stops cleanly on SIGTERM: the node agent marks its node NotReady and leaves its pods running, for the next
 * agent to adopt; the supervisor leaves the daemons it watches running.
 */
import { parseArgs } from 'node:util';
import { ApiServer, EtcdStore, NodeAgentStats, NodeAgentStreaming, pkiPaths, readToken } from '../api/index.js';
import { describeError } from '../errors.js';
import { KubeClient } from '../kube/index.js';
import { ControllerManager, nodeMonitorGraceMs } from '../controllers/index.js';
import { createLogger } from '../log.js';
import { Scheduler } from '../scheduler/index.js';
import { runNodeAgent } from '../node/index.js';
import { runSupervisor } from './supervisor.js';

async function apiserver(args: string[]): Promise<() => Promise<void>> {
  const { values } = parseArgs({
    args, options: { 'etcd-endpoints': { type: 'string' }, pki: { type: 'string' }, port: { type: 'string' }, 'extra-host': { type: 'string', multiple: true } },
  });
  const endpoints = (values['etcd-endpoints'] ?? '').split(',').filter((e) => e !== '');
  if (endpoints.length === 0 || !values.pki) throw new Error('apiserver needs --etcd-endpoints and --pki');
  const pki = pkiPaths(values.pki);
  const store = new EtcdStore(endpoints);
  const server = new ApiServer({
    store, pki, token: readToken(pki), port: Number(values.port ?? 0), extraHosts: values['extra-host'] ?? [], streaming: new NodeAgentStreaming(), nodeStats: new NodeAgentStats(), logger: createLogger('apiserver'),
  });
  await server.start();
  return async () => {
    await server.close();
    store.close();
  };
}

/** A daemon that is a client of the API (`--kubeconfig`): runs `start` with a client, and closes the client when stopped. */
function apiClient(name: string, start: (client: KubeClient) => Promise<() => void>): (args: string[]) => Promise<() => Promise<void>> {
  return async (args) => {
    const { values } = parseArgs({ args, options: { kubeconfig: { type: 'string' } } });
    if (!values.kubeconfig) throw new Error(`${name} needs --kubeconfig`);
    const client = KubeClient.fromKubeconfig(values.kubeconfig);
    try {
      const stop = await start(client);
      return async () => {
        stop();
        client.close();
      };
    } catch (err) {
      client.close();
      throw err;
    }
  };
}

const scheduler = apiClient('scheduler', async (client) => {
  const s = new Scheduler(client, { logger: createLogger('scheduler') });
  await s.start();
  return () => s.stop();
});

const controllerManager = apiClient('controller-manager', async (client) => {
  const grace = nodeMonitorGraceMs(process.env);
  const m = new ControllerManager(client, { logger: createLogger('controller-manager'), ...(grace !== undefined ? { nodeMonitorGraceMs: grace } : {}) });
  await m.start();
  return () => m.stop();
});

async function node(args: string[]): Promise<() => Promise<void>> {
  const { values } = parseArgs({
    args,
    options: {
      kubeconfig: { type: 'string' }, cri: { type: 'string' }, name: { type: 'string' }, logs: { type: 'string' }, 'pods-dir': { type: 'string' },
      'host-ip': { type: 'string' }, labels: { type: 'string' }, taints: { type: 'string' }, capacity: { type: 'string' }, 'pod-cidr': { type: 'string' },
      'pod-bridge': { type: 'string' },
    },
  });
  if (!values.kubeconfig || !values.cri || !values.name || !values.logs) throw new Error('node needs --kubeconfig, --cri, --name and --logs');
  const log = createLogger('node-agent');
  const client = KubeClient.fromKubeconfig(values.kubeconfig);
  const pairs = (text: string | undefined): [string, string][] =>
    (text ?? '').split(',').filter((kv) => kv.includes('=')).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]);
  const labels = Object.fromEntries(pairs(values.labels));
  const taints = (values.taints ?? '').split(',').filter((t) => t !== '').map((t) => {
    const m = /^([^=:]+)(?:=([^:]*))?:(\w+)$/.exec(t);
    if (!m) throw new Error(`--taints: "${t}" is not key[=value]:Effect`);
    return { key: m[1]!, ...(m[2] ? { value: m[2] } : {}), effect: m[3]! };
  });
  const cap = Object.fromEntries(pairs(values.capacity).map(([k, v]) => [k, Number(v)]));
  const capacity = values.capacity ? { cpu: cap['cpu'] ?? 0, memoryBytes: cap['memory'] ?? 0, pods: cap['pods'] ?? 110 } : undefined;
  const node = await runNodeAgent({
    client, criSocket: values.cri, nodeName: values.name, hostIP: values['host-ip'] ?? '127.0.0.1', logsRoot: values.logs, labels, log, taints,
    ...(capacity ? { capacity } : {}),
    ...(values['pod-cidr'] ? { podCIDR: values['pod-cidr'] } : {}),
    ...(values['pods-dir'] ? { podsDir: values['pods-dir'] } : {}),
    ...(values['pod-bridge'] ? { podBridge: values['pod-bridge'] } : {}),
  });
  return async () => {
    await node.stop('the node agent was stopped on purpose (sandpod stop or down, or its node pool scaled down); its pods are not looked after until it starts again');
    client.close();
  };
}

async function supervisor(args: string[]): Promise<() => Promise<void>> {
  const { values } = parseArgs({ args, options: { 'run-dir': { type: 'string' } } });
  if (!values['run-dir']) throw new Error('supervisor needs --run-dir');
  return runSupervisor(values['run-dir'], createLogger('supervisor'));
}

const components: Record<string, (args: string[]) => Promise<() => Promise<void>>> = { apiserver, scheduler, 'controller-manager': controllerManager, node, supervisor };

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
