/** The machine's processes as /proc has them: for finding what a runtime started and lost. */
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcessInfo { pid: number; ppid: number; cmdline: string }

/** Every process of this machine: PID, parent and command line (arguments NUL-separated). */
export function processTable(): ProcessInfo[] {
  const out: ProcessInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      out.push({ pid: Number(entry), ppid, cmdline: readFileSync(`/proc/${entry}/cmdline`, 'utf8') });
    } catch {
      // Gone while we looked.
    }
  }
  return out;
}
