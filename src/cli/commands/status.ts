/** `sandpod status`: what of the local cluster runs (processes, registry, nodes, pods). Exit 1 when something recorded is down. */
import { clusterStatus } from '../../cluster/index.js';
import { parse, pathsFrom } from '../options.js';

export default async function run(argv: string[]): Promise<number> {
  const { values } = parse('status', argv, { json: { type: 'boolean' } });
  if (values.help) {
    process.stdout.write('usage: sandpod status [--state-dir DIR] [--run-dir DIR] [--json]\n\nSays what of the local cluster is running.\n');
    return 0;
  }
  const paths = pathsFrom(values);
  const s = await clusterStatus(paths);
  if (values.json) {
    process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
  } else if (s.processes.length === 0) {
    process.stdout.write('no cluster is running; start one with "sandpod up"\n');
    return 0;
  } else {
    const lines = s.processes.map((p) => `  ${p.name.padEnd(24)} pid ${String(p.pid).padEnd(8)} ${p.running ? 'running' : `NOT RUNNING (log: ${p.logFile})`}`);
    const reg = s.registry.state === 'running' ? `running at ${s.registry.record.url}` : s.registry.state === 'stopped' ? 'not running' : `NOT ANSWERING: ${s.registry.reason}`;
    process.stdout.write([
      'processes:', ...lines,
      `registry: ${reg}`,
      ...(s.apiServer ? [`API server: ${s.apiServer}`, `kubeconfig: ${s.kubeconfig ?? ''}`] : []),
      ...(s.nodes ? [`nodes: ${s.nodes.map((n) => `${n.name} (${n.ready ? 'Ready' : 'NotReady'})`).join(', ') || 'none'}`, `pods: ${s.pods ?? 0}`] : ['API server: not answering']),
      '',
    ].join('\n'));
  }
  return s.processes.every((p) => p.running) ? 0 : 1;
}
