/** A /proc for tests: files by path, processes that come and go. */
import { notFound } from '../../errors.js';
import type { ProcFs } from './proc.js';

export interface FakeProcess {
  argv: string[];
  /** User + system ticks (1/100 s). */
  ticks: number;
  startTicks: number;
  rssKb?: number;
  pssKb?: number;
}

export class FakeProcFs implements ProcFs {
  readonly files = new Map<string, string>();
  readonly processes = new Map<number, FakeProcess>();
  /** How many times the process list was read: a scan of /proc. */
  scans = 0;

  read(path: string): Promise<string> {
    const [head, file] = path.split('/');
    const p = file === undefined ? undefined : this.processes.get(Number(head));
    if (p && file === 'cmdline') return Promise.resolve(`${p.argv.join('\0')}\0`);
    if (p && file === 'stat') return Promise.resolve(`${head} (x) S 1 1 1 0 -1 0 0 0 0 0 ${p.ticks} 0 0 0 20 0 1 0 ${p.startTicks} 0 0`);
    if (p && file === 'smaps_rollup') return Promise.resolve(`Rss: ${p.rssKb ?? 0} kB\nPss: ${p.pssKb ?? 0} kB\n`);
    const text = this.files.get(path);
    return text === undefined ? Promise.reject(notFound(`/proc/${path}`, `no such file: /proc/${path}`)) : Promise.resolve(text);
  }

  pids(): Promise<number[]> {
    this.scans++;
    return Promise.resolve([...this.processes.keys()]);
  }
}
