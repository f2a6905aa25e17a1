/** `sandpod status`: what of a cluster runs (supervisor, daemons with their restarts, registry, nodes, pods). Exit 1 when something recorded is down. */
import { z } from 'zod';
import { Cluster, describeCluster, LOCAL_RESOURCE_GROUP, type DaemonView } from '../../cluster/index.js';
import { commonSchema, ID_FLAGS, idSchema, storeOf } from '../cluster-flags.js';
import { commandFlags } from '../flags.js';

const schema = z.object({ ...commonSchema, ...idSchema, json: z.boolean().optional() }).strict();

function daemonLine(d: DaemonView): string {
  const state = d.running ? 'running' : d.state === 'restarting' ? `RESTARTING at ${d.nextRestartAt ?? '?'}` : `NOT RUNNING (log: ${d.logFile})`;
  const exit = d.lastExit
    ? `; last exit ${d.lastExit.at} (pid ${d.lastExit.pid}, ${d.lastExit.signal ? `signal ${d.lastExit.signal}` : d.lastExit.code !== null ? `code ${d.lastExit.code}` : 'status unknown'}): ${d.lastExit.logLine}`
    : '';
  return `  ${d.name.padEnd(44)} pid ${String(d.pid).padEnd(8)} ${state}${d.restarts > 0 ? `, restarted ${d.restarts}×` : ''}${exit}`;
}

export default async function run(argv: string[]): Promise<number> {
  const v = commandFlags('status', argv, { ...ID_FLAGS, json: { type: 'boolean' } }, schema, 'usage: sandpod status [--name NAME] [--resource-group GROUP] [--json]\n\nSays what of a cluster (default: the cluster "default") runs: its supervisor, each daemon with its restarts and last exit, the registry, the nodes and the pod count.\n');
  if (!v) return 0;
  const store = storeOf(v);
  const id = Cluster.idOf(v['resource-group'] ?? LOCAL_RESOURCE_GROUP, v.name ?? 'default');
  if (!store.get(id)) {
    if (v.json) process.stdout.write('{}\n');
    else process.stdout.write(v.name ? `${describeCluster(id)} does not exist; "sandpod list" shows the clusters\n` : 'no cluster is running; start one with "sandpod up"\n');
    return 0;
  }
  const s = await Cluster.open(store, id).status();
  const healthy = s.powerState === 'Stopped' || (s.supervisor?.running === true && s.daemons.every((d) => d.running));
  if (v.json) {
    process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
    return healthy ? 0 : 1;
  }
  process.stdout.write([
    `${describeCluster(id)}: ${s.powerState} (${s.provisioningState})${s.lastError ? `; last error: ${s.lastError}` : ''}`,
    ...(s.powerState === 'Running' ? [
      `supervisor: ${s.supervisor ? `pid ${s.supervisor.pid} ${s.supervisor.running ? 'running' : `NOT RUNNING (log: ${s.supervisor.logFile}); "sandpod up" or "sandpod start" starts it again`}` : 'NOT RUNNING'}`,
      'daemons:', ...s.daemons.map(daemonLine),
      `registry: ${s.registry ?? 'not answering'}`,
      ...(s.apiServer ? [`API server: ${s.apiServer}`, `kubeconfig: ${s.kubeconfig}`] : []),
      ...(s.nodes ? [`nodes: ${s.nodes.map((n) => `${n.name} (${n.pool}, ${n.ready ? 'Ready' : `NotReady: ${n.reason ?? ''}`})`).join(', ') || 'none'}`, `pods: ${s.pods ?? 0}`] : ['API server: not answering']),
    ] : ['nothing runs; "sandpod start" (or "sandpod up" for the cluster default) starts it']),
    '',
  ].join('\n'));
  return healthy ? 0 : 1;
}
