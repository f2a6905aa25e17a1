/**
 * The user's side of exec and attach: a WebSocket speaking `v5.channel.k8s.io` (what kubectl ≥ 1.30 speaks,
 * relayed unchanged by the API server) bridged to a session on the runtime's streaming server. Channels: 0 stdin
 * in, 1 stdout and 2 stderr out, 4 resize in, 255 close in (`[255, 0]` ends stdin), and at the end one
 * metav1.Status on 3 before a normal close.
 */
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket } from 'ws';
import { z } from 'zod';
import { describeError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { StreamOptions } from './params.js';
import type { RuntimeStream } from './runtime-stream.js';

export const userProtocol = 'v5.channel.k8s.io';

const channel = { stdin: 0, stdout: 1, stderr: 2, status: 3, resize: 4, close: 255 } as const;

/**
 * kubectl 1.32/1.33 read from the socket before they register their stdout and stderr streams and drop what
 * arrives in between (docs/node-streaming.md). Starting the runtime session this long after the upgrade keeps
 * a command that writes at once from losing its first output.
 */
const clientSetupMs = 50;

const terminalSize = z.object({ Width: z.number().int().min(0).max(0xffff), Height: z.number().int().min(0).max(0xffff) });

const runtimeStatus = z.object({
  status: z.string(),
  message: z.string().optional(),
  reason: z.string().optional(),
  details: z.object({ causes: z.array(z.object({ reason: z.string().optional(), message: z.string().optional() })).optional() }).optional(),
});

type Status = Record<string, unknown>;

function parseJson(data: Buffer): unknown {
  try {
    return JSON.parse(data.toString());
  } catch {
    return undefined;
  }
}

function failure(message: string, reason = 'InternalError'): Status {
  return { metadata: {}, status: 'Failure', message, reason, code: 500 };
}

/**
 * The v5 status for what the runtime wrote on its v4 error channel: Success, NonZeroExitCode with the exit code
 * in the one form kubectl reads, or a Failure naming `object`.
 */
export function translateStatus(raw: Buffer, object: string): Status {
  if (raw.length === 0) return failure(`${object}: the container runtime ended the session without an exit status`);
  const result = runtimeStatus.safeParse(parseJson(raw));
  if (!result.success) return failure(`${object}: ${raw.toString().trim()}`);
  const parsed = result.data;
  if (parsed.status === 'Success') return { metadata: {}, status: 'Success' };
  const exit = parsed.details?.causes?.find((c) => c.reason === 'ExitCode')?.message;
  if (parsed.reason === 'NonZeroExitCode' && exit !== undefined && /^\d+$/.test(exit)) {
    return { metadata: {}, status: 'Failure', reason: 'NonZeroExitCode', message: `command terminated with non-zero exit code: ${exit}`, details: { causes: [{ reason: 'ExitCode', message: exit }] } };
  }
  return failure(`${object}: ${parsed.message ?? 'the container runtime reported a failure'}`, parsed.reason);
}

/** Output the user's connection holds unsent beyond this pauses the runtime's stream; below the low mark it resumes. */
const outputHighWater = 1024 * 1024;
const outputLowWater = 256 * 1024;

/** Sends what `source` produces on channel `id`, pausing it while the user's connection is slow to take it. */
function forwardOutput(ws: WebSocket, id: number, source: Readable): void {
  source.on('data', (data: Buffer) => {
    if (ws.readyState !== WebSocket.OPEN) return;
    ws.send(Buffer.concat([Buffer.from([id]), data]), { binary: true }, () => {
      if (source.isPaused() && ws.bufferedAmount < outputLowWater) source.resume();
    });
    if (ws.bufferedAmount > outputHighWater) source.pause();
  });
}

/**
 * Runs one session on an accepted WebSocket: holds what the user sends until `start` has connected to the
 * runtime, relays both ways with backpressure, and ends with the status on channel 3 and close code 1000.
 */
export async function relaySession(ws: WebSocket, opts: StreamOptions, start: () => Promise<RuntimeStream>, object: string, log: Logger): Promise<void> {
  const held: Buffer[] = [];
  let runtime: RuntimeStream | undefined;
  let userGone = false;
  const deliver = (message: Buffer): void => {
    const payload = message.subarray(1);
    switch (message[0]) {
      case channel.stdin: {
        const stdin = runtime?.stdin;
        if (!opts.stdin || !stdin || stdin.writableEnded || payload.length === 0) break;
        // The runtime is slower than the user: stop reading the user's connection until stdin drains.
        if (!stdin.write(payload) && !ws.isPaused) {
          ws.pause();
          stdin.once('drain', () => ws.resume());
        }
        break;
      }
      case channel.resize: {
        const size = terminalSize.safeParse(parseJson(payload));
        if (size.success && opts.tty) runtime?.resize(size.data);
        else if (!size.success) log.warn('ignored a malformed resize message', { object });
        break;
      }
      case channel.close:
        if (payload[0] === channel.stdin) runtime?.stdin?.end();
        break;
    }
  };
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (!isBinary || data.length === 0) return;
    if (runtime) deliver(data);
    else held.push(data);
  });
  ws.on('close', () => {
    userGone = true;
    runtime?.close();
  });
  ws.on('error', (err) => log.debug('user stream failed', { object, err }));
  let status: Status;
  try {
    await sleep(clientSetupMs);
    if (userGone) return;
    runtime = await start();
    if (userGone) {
      runtime.close();
      return;
    }
    if (runtime.stdout) forwardOutput(ws, channel.stdout, runtime.stdout);
    if (runtime.stderr) forwardOutput(ws, channel.stderr, runtime.stderr);
    for (const message of held.splice(0)) deliver(message);
    status = translateStatus(await runtime.finished, object);
  } catch (err) {
    log.warn('exec/attach session failed', { object, err });
    status = failure(describeError(err));
  }
  if (ws.readyState === WebSocket.OPEN) ws.send(Buffer.concat([Buffer.from([channel.status]), Buffer.from(JSON.stringify(status))]), { binary: true });
  if (ws.readyState === WebSocket.OPEN) ws.close(1000);
}
