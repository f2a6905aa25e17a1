/** Query parameters of the streaming requests, parsed once against a schema (docs/node-streaming.md). */
import { z } from 'zod';
import { invalid } from '../../errors.js';
import { parseRfc3339Nano } from './cri-log.js';

/** Kubernetes query booleans: kubectl sends `true`; kubelet's own clients send `1`. */
const flag = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1').default(false);
const count = (min: number) => z.string().regex(/^\d+$/, 'must be a whole number').transform(Number).pipe(z.number().int().min(min).max(Number.MAX_SAFE_INTEGER));

const logQuery = z.object({
  follow: flag,
  previous: flag,
  timestamps: flag,
  sinceSeconds: count(1).optional(),
  sinceTime: z.string().transform((s, ctx) => parseRfc3339Nano(s) ?? (ctx.addIssue({ code: 'custom', message: 'must be an RFC 3339 time' }), z.NEVER)).optional(),
  tailLines: count(0).optional(),
  limitBytes: count(1).optional(),
});

export interface LogOptions {
  follow: boolean;
  previous: boolean;
  timestamps: boolean;
  /** Lines older than this (nanoseconds since the epoch) are left out. */
  since: bigint | undefined;
  tailLines: number | undefined;
  limitBytes: number | undefined;
}

const streamQuery = z.object({ stdin: flag, stdout: flag, stderr: flag, tty: flag });

export interface StreamOptions {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

export interface ExecOptions extends StreamOptions {
  command: string[];
}

function parse<T extends z.ZodType>(schema: T, query: URLSearchParams, object: string): z.output<T> {
  const result = schema.safeParse(Object.fromEntries(query));
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
  throw invalid(object, `bad query parameters for ${object}: ${problems}`);
}

/** The options of a containerLogs request; `object` names the container in messages. */
export function parseLogOptions(query: URLSearchParams, object: string): LogOptions {
  const q = parse(logQuery, query, object);
  if (q.sinceSeconds !== undefined && q.sinceTime !== undefined) throw invalid(object, `bad query parameters for ${object}: at most one of sinceSeconds or sinceTime may be specified`);
  const since = q.sinceSeconds !== undefined ? (BigInt(Date.now()) - BigInt(q.sinceSeconds) * 1000n) * 1_000_000n : q.sinceTime;
  return { follow: q.follow, previous: q.previous, timestamps: q.timestamps, since, tailLines: q.tailLines, limitBytes: q.limitBytes };
}

/** The streams an attach request asks for; with a TTY there is no separate stderr (kubelet drops it too). */
export function parseStreamOptions(query: URLSearchParams, object: string): StreamOptions {
  const q = parse(streamQuery, query, object);
  if (!q.stdin && !q.stdout && !q.stderr) throw invalid(object, `bad query parameters for ${object}: at least one of stdin, stdout or stderr must be true`);
  return { ...q, stderr: q.stderr && !q.tty };
}

/** The command and streams of an exec request. */
export function parseExecOptions(query: URLSearchParams, object: string): ExecOptions {
  const command = query.getAll('command');
  if (command.length === 0 || command[0] === '') throw invalid(object, `bad query parameters for ${object}: exec needs a command (one command=… parameter per argument)`);
  return { ...parseStreamOptions(query, object), command };
}
