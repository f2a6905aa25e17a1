/**
 * Structured logging: one JSON object per line, always naming the component and, where there is one,
 * the object concerned. Logs go to a file or stderr; terminal progress for people is in src/cli/progress.ts.
 */
import { appendFileSync, renameSync, statSync } from 'node:fs';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

export interface LogSink {
  write(line: string): void;
}

export const stderrSink: LogSink = { write: (line) => process.stderr.write(line) };
/** A log file grows to this size, then moves to `<file>.1` (replacing the one before) and starts again. */
export const LOG_FILE_MAX_BYTES = 64 * 2 ** 20;

/** Appends lines to a file, bounded: at `maxBytes` the file is rotated once (`.1`), so a daemon's log never grows without end. */
export function fileSink(path: string, maxBytes = LOG_FILE_MAX_BYTES): LogSink {
  let size: number | undefined;
  return {
    write: (line) => {
      if (size === undefined) {
        try { size = statSync(path).size; } catch { size = 0; }
      }
      if (size + line.length > maxBytes) {
        try { renameSync(path, `${path}.1`); } catch { /* not there yet */ }
        size = 0;
      }
      appendFileSync(path, line);
      size += Buffer.byteLength(line);
    },
  };
}
export const nullSink: LogSink = { write: () => undefined };

function levelFromEnv(): LogLevel {
  const v = process.env['SANDPOD_LOG_LEVEL'];
  return v === 'debug' || v === 'info' || v === 'warn' || v === 'error' ? v : 'info';
}

export function createLogger(component: string, sink: LogSink = defaultSink(), level: LogLevel = levelFromEnv(), base: LogFields = {}): Logger {
  const emit = (lvl: LogLevel, msg: string, fields?: LogFields): void => {
    if (rank[lvl] < rank[level]) return;
    const record = { time: new Date().toISOString(), level: lvl, component, msg, ...base, ...fields };
    sink.write(JSON.stringify(record, (_k, v: unknown) => (v instanceof Error ? v.message : v)) + '\n');
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger(component, sink, level, { ...base, ...fields }),
  };
}

/** Where logs go when nobody says: the file named by SANDPOD_LOG_FILE, else nowhere (the CLI prints what people need). */
function defaultSink(): LogSink {
  const file = process.env['SANDPOD_LOG_FILE'];
  if (file) return fileSink(file);
  return process.env['SANDPOD_LOG_STDERR'] === '1' ? stderrSink : nullSink;
}
