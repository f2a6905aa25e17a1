/**
 * Host side of the agent protocol over any byte stream: the VM's virtio-serial socket, or a sandbox
 * monitor's control socket (which speaks the same protocol). Matches replies to requests, routes process
 * output and exits to whoever started the process, and resynchronises with `hello` whenever the agent
 * (re)announces itself.
 */
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { randomUUID } from 'node:crypto';
import {
  encodeFrame, FrameDecoder, guestMessageSchema, readyInfoSchema,
  type GuestMessage, type HostMessage, type HostRequest, type ProcessSpec, type ReadyInfo,
} from '../protocol/index.js';
import { describeError, SandpodError, unavailable } from '../errors.js';

type DistributiveOmit<T, K extends keyof any> = T extends unknown ? Omit<T, K> : never;
export type RequestBody = DistributiveOmit<HostRequest, 'id'>;
export type ProcessEvent = Extract<GuestMessage, { type: 'output' | 'exit' }>;

export interface ProcessExit {
  code: number | null;
  signal: string | null;
  /** Set when the process ended because its sandbox or the connection went away. */
  error?: string;
  /** A container's first process, ended after an OOM kill in its cgroup. */
  oomKilled?: boolean;
}

export interface ProcessHandle {
  readonly proc: string;
  readonly pid: number;
  readonly exited: Promise<ProcessExit>;
  write(data: Buffer): void;
  closeStdin(): void;
  resize(rows: number, cols: number): void;
  signal(signal: string): Promise<void>;
}

export interface ProcessIo {
  onStdout(data: Buffer): void;
  onStderr(data: Buffer): void;
}

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };

export class AgentClient extends EventEmitter {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly procSinks = new Map<string, (e: ProcessEvent) => void>();
  private readonly decoder = new FrameDecoder();
  private closedError: Error | undefined;

  constructor(private readonly stream: Duplex, private readonly object: string) {
    super();
    stream.on('data', (d: Buffer) => { for (const m of this.decoder.push(d)) this.onMessage(m); });
    stream.on('error', () => undefined);
    // The socket usually closes because the VM died; give the owner a moment to report that more precisely.
    stream.on('close', () => { setTimeout(() => this.shutdownWith(unavailable(object, 'the connection to the guest agent closed')), 100); });
  }

  /** Fails every pending request and running process with `err` (the VM died, the socket closed). */
  shutdownWith(err: Error): void {
    if (this.closedError) return;
    this.closedError = err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    for (const [proc, sink] of this.procSinks) sink({ type: 'exit', proc, code: null, signal: null, error: describeError(err) });
    this.procSinks.clear();
    this.emit('closed', err);
  }

  get closed(): Error | undefined { return this.closedError; }

  request(body: RequestBody): Promise<unknown> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.write({ ...body, id } as HostMessage);
    });
  }

  /** Sends a message that has no reply (stdin, close-stdin, resize). */
  write(msg: HostMessage): void {
    if (!this.closedError) this.stream.write(encodeFrame(msg));
  }

  /**
   * Waits for the agent: says hello now and again whenever the agent announces itself, and resolves with
   * the first matching answer. Stale frames from an earlier connection are ignored by their nonce.
   */
  async hello(): Promise<ReadyInfo> {
    const nonce = randomUUID();
    return new Promise<ReadyInfo>((resolve, reject) => {
      let done = false;
      const attempt = (): void => {
        this.request({ type: 'hello', nonce }).then((r) => {
          const res = r as { nonce?: unknown; info?: unknown };
          if (done || res.nonce !== nonce) return;
          done = true;
          this.off('ready', attempt);
          resolve(readyInfoSchema.parse(res.info));
        }, (err: Error) => { if (!done) { done = true; this.off('ready', attempt); reject(err); } });
      };
      this.on('ready', attempt);
      attempt();
    });
  }

  /** Routes the output and exit of `proc` to `sink` (used by the monitor to relay to its clients). */
  attach(proc: string, sink: (e: ProcessEvent) => void): void { this.procSinks.set(proc, sink); }
  detach(proc: string): void { this.procSinks.delete(proc); }

  async startProcess(spec: ProcessSpec, io: ProcessIo, proc: string = randomUUID()): Promise<ProcessHandle> {
    let settle!: (e: ProcessExit) => void;
    const exited = new Promise<ProcessExit>((resolve) => { settle = resolve; });
    this.attach(proc, (e) => {
      if (e.type === 'output') (e.stream === 'stdout' ? io.onStdout : io.onStderr)(Buffer.from(e.data, 'base64'));
      else {
        this.detach(proc);
        const error = e.error ?? this.closedError?.message;
        settle(error ? { code: null, signal: null, error } : { code: e.code, signal: e.signal, ...(e.oomKilled ? { oomKilled: true } : {}) });
      }
    });
    let result: unknown;
    try {
      result = await this.request({ type: 'exec', proc, spec });
    } catch (err) {
      this.detach(proc);
      throw err;
    }
    const pid = typeof (result as { pid?: unknown })?.pid === 'number' ? (result as { pid: number }).pid : -1;
    return {
      proc, pid, exited,
      write: (data) => this.write({ type: 'stdin', proc, data: data.toString('base64') }),
      closeStdin: () => this.write({ type: 'close-stdin', proc }),
      resize: (rows, cols) => this.write({ type: 'resize', proc, rows, cols }),
      signal: async (signal) => { await this.request({ type: 'signal', proc, signal }); },
    };
  }

  close(): void { this.stream.destroy(); }

  private onMessage(raw: unknown): void {
    const parsed = guestMessageSchema.safeParse(raw);
    if (!parsed.success) { this.emit('invalid', raw); return; }
    const m = parsed.data;
    switch (m.type) {
      case 'ready': this.emit('ready', m.info); return;
      case 'reply':
      case 'failure': {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (m.type === 'reply') p.resolve(m.result);
        else p.reject(new SandpodError(m.error.kind, m.error.message, { object: this.object }));
        return;
      }
      case 'output':
      case 'exit':
        this.procSinks.get(m.proc)?.(m);
        return;
    }
  }
}

/** Exit status as a shell reports it: the code, or 128 + the signal number. */
export function exitStatus(e: ProcessExit, signalNumber: (name: string) => number | undefined): number {
  if (e.code !== null) return e.code;
  if (e.signal) return 128 + (signalNumber(e.signal) ?? 0);
  return 255;
}
