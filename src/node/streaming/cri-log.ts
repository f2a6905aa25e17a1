/**
 * The CRI container log format containerd writes (one record per line: `<RFC3339Nano> <stdout|stderr> <P|F> <text>`,
 * P for a fragment of a line too long for one record, F for the fragment that ends it), read incrementally from a
 * file that may still be growing.
 */
import type { FileHandle } from 'node:fs/promises';

export type LogStream = 'stdout' | 'stderr';

/** One line of the container's output, its fragments joined. */
export interface LogLine {
  /** The first fragment's timestamp, as the runtime wrote it. */
  timestamp: string;
  /** The same instant in nanoseconds since the epoch, for comparisons finer than a millisecond. */
  time: bigint;
  stream: LogStream;
  /** The text, with its newline unless the output ended without one. */
  content: Buffer;
}

interface LogRecord {
  timestamp: string;
  time: bigint;
  stream: LogStream;
  partial: boolean;
  content: Buffer;
}

const RFC3339 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/** Nanoseconds since the epoch of an RFC 3339 timestamp with up to nine fraction digits, or undefined. */
export function parseRfc3339Nano(text: string): bigint | undefined {
  const m = RFC3339.exec(text);
  if (!m) return undefined;
  const ms = Date.parse(`${m[1] ?? ''}${m[3] ?? ''}`);
  if (Number.isNaN(ms)) return undefined;
  return BigInt(ms) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

/** One record of the file (without its newline), or undefined for a line that is not in the CRI format. */
export function parseCriLogRecord(line: Buffer): LogRecord | undefined {
  const s1 = line.indexOf(0x20);
  const s2 = s1 < 0 ? -1 : line.indexOf(0x20, s1 + 1);
  if (s2 < 0) return undefined;
  const s3 = line.indexOf(0x20, s2 + 1);
  const timestamp = line.subarray(0, s1).toString('latin1');
  const stream = line.subarray(s1 + 1, s2).toString('latin1');
  // The tag is P or F, possibly followed by more `:`-separated tags in later CRI versions.
  const tag = line.subarray(s2 + 1, s3 < 0 ? line.length : s3).toString('latin1').split(':')[0];
  const time = parseRfc3339Nano(timestamp);
  if (time === undefined || (stream !== 'stdout' && stream !== 'stderr') || (tag !== 'P' && tag !== 'F')) return undefined;
  return { timestamp, time, stream, partial: tag === 'P', content: s3 < 0 ? Buffer.alloc(0) : line.subarray(s3 + 1) };
}

const chunkBytes = 64 * 1024;

/**
 * Reads a CRI log file from the start, as far as it has been written, each time `read` is called. A record
 * still being written (no newline yet) waits for the next call; so do the fragments of a line not yet ended.
 */
export class CriLogReader {
  private offset = 0;
  private rest: Buffer = Buffer.alloc(0);
  private readonly pending = new Map<LogStream, { first: LogRecord; parts: Buffer[] }>();

  constructor(private readonly file: FileHandle) {}

  /** Calls `onLine` for each line completed since the last call; stops early when it returns false. */
  async read(onLine: (line: LogLine) => boolean | Promise<boolean>): Promise<boolean> {
    const buf = Buffer.alloc(chunkBytes);
    for (;;) {
      for (let nl = this.rest.indexOf(0x0a); nl >= 0; nl = this.rest.indexOf(0x0a)) {
        const line = this.join(this.rest.subarray(0, nl));
        this.rest = this.rest.subarray(nl + 1);
        if (line && !(await onLine(line))) return false;
      }
      const { bytesRead } = await this.file.read(buf, 0, chunkBytes, this.offset);
      if (bytesRead === 0) return true;
      this.offset += bytesRead;
      this.rest = Buffer.concat([this.rest, buf.subarray(0, bytesRead)]);
    }
  }

  /** The fragments of lines the output ended in the middle of, as lines without a newline. */
  unfinished(): LogLine[] {
    const lines = [...this.pending.values()].map(({ first, parts }) => ({ timestamp: first.timestamp, time: first.time, stream: first.stream, content: Buffer.concat(parts) }));
    this.pending.clear();
    return lines.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
  }

  private join(raw: Buffer): LogLine | undefined {
    const record = parseCriLogRecord(raw);
    if (!record) return undefined;
    const open = this.pending.get(record.stream);
    const first = open?.first ?? record;
    const parts = [...(open?.parts ?? []), record.content];
    if (record.partial) {
      this.pending.set(record.stream, { first, parts });
      return undefined;
    }
    this.pending.delete(record.stream);
    return { timestamp: first.timestamp, time: first.time, stream: first.stream, content: Buffer.concat([...parts, Buffer.from('\n')]) };
  }
}
