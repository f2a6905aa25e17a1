/**
 * How long a NetworkPolicy change takes to be enforced, seen from a pod: `netprobe watch` runs in the pod through
 * `kubectl exec`, says when a probe saw the target as it was before the change, the change is made, and the watch
 * answers with the first probe that saw the new state. For the NetworkPolicy e2e test and bench/netpol. The watching
 * pod must be a runc pod: its clock is this process's.
 */
import { spawn } from 'node:child_process';

export interface ChangeWatch {
  /** kubectl and its arguments up to the exec's pod (`[kubectl, '--kubeconfig', …, 'exec', '-n', ns, pod]`). */
  exec: readonly string[];
  /** `tcp:IP:PORT`. */
  target: string;
  until: 'open' | 'closed';
  /** How long the watch probes in all, from its start. */
  deadlineMs?: number;
}

/** Milliseconds from `change` (made once the watcher saw the state before it) to the first probe that saw `until`. */
export async function timeToEffect(w: ChangeWatch, change: () => Promise<unknown>): Promise<number> {
  const deadlineMs = w.deadlineMs ?? 15_000;
  const [kubectl, ...args] = w.exec;
  const child = spawn(kubectl!, [...args, '--', 'netprobe', 'watch', '--target', w.target, '--until', w.until, '--interval', '20', '--timeout', '300', '--deadline', String(deadlineMs)], { stdio: ['ignore', 'pipe', 'pipe'] });
  // kubectl exec itself may hang; the watch ends by its deadline, so a minute beyond it is plenty.
  const killer = setTimeout(() => child.kill(), deadlineMs + 60_000);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => { stderr += d; });
  const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? 1)));
  const ready = new Promise<boolean>((resolve) => {
    child.stdout.on('data', (d: string) => {
      stdout += d;
      if (stdout.includes('"ready"')) resolve(true);
    });
    void exited.then(() => resolve(false));
  });
  try {
    const what = `netprobe watch ${w.target} until ${w.until}`;
    if (!(await ready)) throw new Error(`${what} never saw the state before the change: ${stdout}${stderr}`);
    const t0 = Date.now();
    await change();
    const code = await exited;
    const last = stdout.trim().split('\n').pop() ?? '';
    const { at } = JSON.parse(last.startsWith('{"at"') ? last : '{"at":null}') as { at: number | null };
    if (code !== 0 || at === null) throw new Error(`${what}: the change was not seen (exit ${code}): ${stdout}${stderr}`);
    return at - t0;
  } finally {
    clearTimeout(killer);
    child.kill();
  }
}
