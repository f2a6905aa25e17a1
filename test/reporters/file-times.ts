/**
 * A node:test reporter that prints, once the run ends, how long each test file took, longest first: the time from
 * the previous file's last event to its own (scripts/test runs one file at a time). It keeps the suite inside its
 * budget by showing where the time goes.
 */
import { relative } from 'node:path';

interface ReporterEvent { type: string; data?: { file?: string } }

export default async function* fileTimes(source: AsyncIterable<ReporterEvent>): AsyncGenerator<string> {
  const last = new Map<string, number>();
  const started = Date.now();
  for await (const event of source) {
    if (!event.data?.file) continue;
    // Events name a file by its source (source maps) or by its build output: one name for both.
    const file = relative(process.cwd(), event.data.file).replace(/^dist\//, '').replace(/\.js$/, '.ts');
    // Re-inserted, so the map's order is the order in which files finished.
    last.delete(file);
    last.set(file, Date.now());
  }
  let previous = started;
  const rows: Array<[number, string]> = [];
  for (const [file, at] of last) {
    rows.push([at - previous, file]);
    previous = at;
  }
  rows.sort((a, b) => b[0] - a[0]);
  yield `time per test file (${((previous - started) / 60_000).toFixed(1)} min in all):\n`;
  for (const [ms, file] of rows) yield `${(ms / 1000).toFixed(0).padStart(6)} s  ${file}\n`;
}
