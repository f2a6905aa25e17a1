/**
 * Restarting the containerd that reads a given configuration, so it loads the new runtime handler: through
 * systemd when that containerd is a systemd service, otherwise by telling the operator what to run.
 */
import { access, readdir, readFile, realpath } from 'node:fs/promises';
import { basename } from 'node:path';
import { runTool } from '../run-tool.js';

export const DEFAULT_CONTAINERD_CONFIG = '/etc/containerd/config.toml';

export interface ContainerdProcess { pid: number; argv: string[]; unit?: string }

/** The `--config` a containerd command line names (`-c X`, `--config X`, `--config=X`), or the default. */
export function configOfArgv(argv: string[]): string {
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if ((a === '--config' || a === '-c') && argv[i + 1]) return argv[i + 1]!;
    const m = /^--?(?:config|c)=(.+)$/.exec(a);
    if (m) return m[1]!;
  }
  return DEFAULT_CONTAINERD_CONFIG;
}

/** The systemd unit a process runs in, from its cgroup (`0::/system.slice/containerd.service`). */
export function unitOfCgroup(text: string): string | undefined {
  return /\/([^/\n]+\.service)(?:\/|$)/m.exec(text)?.[1];
}

/** Running containerd daemons (not shims, not `ctr`) whose configuration is `config`. */
export async function containerdsUsing(config: string): Promise<ContainerdProcess[]> {
  const want = await realpath(config).catch(() => config);
  const out: ContainerdProcess[] = [];
  for (const p of await readdir('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    const argv = (await readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '')).split('\0').filter(Boolean);
    if (argv.length === 0 || basename(argv[0]!) !== 'containerd' || argv.includes('config')) continue;
    const cfg = await realpath(configOfArgv(argv)).catch(() => configOfArgv(argv));
    if (cfg !== want) continue;
    const unit = unitOfCgroup(await readFile(`/proc/${p}/cgroup`, 'utf8').catch(() => ''));
    out.push({ pid: Number(p), argv, ...(unit ? { unit } : {}) });
  }
  return out;
}

const systemdRuns = (): Promise<boolean> => access('/run/systemd/system').then(() => true, () => false);

/**
 * Restarts (or says how to restart) the containerd using `config`. `allowed` false (--no-restart) only
 * prints. Returns the lines to print.
 */
export async function restartContainerd(config: string, allowed: boolean, what = 'load the handler'): Promise<string[]> {
  const running = await containerdsUsing(config);
  if (running.length === 0) return [`no running containerd uses ${config}: it will ${what} when it next starts`];
  const lines: string[] = [];
  for (const c of running) {
    if (c.unit && (await systemdRuns())) {
      const cmd = ['systemctl', 'restart', c.unit];
      if (!allowed) { lines.push(`containerd (pid ${c.pid}) must be restarted to ${what}: run \`${cmd.join(' ')}\``); continue; }
      await runTool('containerd', cmd[0]!, cmd.slice(1));
      lines.push(`restarted containerd: ${cmd.join(' ')} (running pods and their shims carry on)`);
    } else {
      lines.push(`containerd (pid ${c.pid}, \`${c.argv.join(' ')}\`) is not a systemd service: restart it the way it was started to ${what} (running pods and their shims carry on)`);
    }
  }
  return lines;
}
