/**
 * The FallbackToLogsOnError termination message: the end of the container's log when it failed without
 * writing its termination message file (2048 bytes or 80 lines, whichever is smaller, as kubelet reads).
 */
import { open } from 'node:fs/promises';
import { parseCriLogRecord } from './streaming/cri-log.js';

const MAX_BYTES = 2048;
const MAX_LINES = 80;

export async function lastLogLines(path: string): Promise<string> {
  const fh = await open(path, 'r').catch(() => undefined);
  if (!fh) return '';
  try {
    const { size } = await fh.stat();
    // CRI records carry a timestamp and stream before the text: read enough records for the bytes wanted.
    const start = Math.max(0, size - MAX_BYTES * 4);
    const buf = Buffer.alloc(size - start);
    await fh.read(buf, 0, buf.length, start);
    const records = buf.toString('latin1').split('\n').slice(start > 0 ? 1 : 0)
      .map((l) => parseCriLogRecord(Buffer.from(l, 'latin1'))).filter((r) => r !== undefined);
    let text = Buffer.concat(records.map((r) => (r.partial ? r.content : Buffer.concat([r.content, Buffer.from('\n')])))).toString('utf8');
    const lines = text.split('\n');
    if (lines.length > MAX_LINES + 1) text = lines.slice(-(MAX_LINES + 1)).join('\n');
    return Buffer.from(text).subarray(-MAX_BYTES).toString('utf8').trimEnd();
  } finally {
    await fh.close();
  }
}
