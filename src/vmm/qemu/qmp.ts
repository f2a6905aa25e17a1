/**
 * QMP client: JSON over a unix socket. Negotiates capabilities, matches replies to commands by id and
 * hands events to listeners.
 */
import { connect, type Socket } from 'node:net';
import { EventEmitter } from 'node:events';
import { SandpodError } from '../../errors.js';

export interface QmpEvent { event: string; data?: unknown; timestamp?: unknown }

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void; command: string };

export class QmpClient extends EventEmitter {
  private buf = '';
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private greeting: ((v: unknown) => void) | undefined;

  private constructor(private readonly socket: Socket, private readonly object: string) {
    super();
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => this.onData(d));
    socket.on('close', () => this.failAll(new SandpodError('Unavailable', 'QMP connection closed', { object })));
    socket.on('error', () => undefined);
  }

  /** Connects and completes the capabilities handshake. */
  static async connect(path: string, object: string): Promise<QmpClient> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect(path);
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });
    const client = new QmpClient(socket, object);
    await new Promise((resolve, reject) => {
      client.greeting = resolve;
      socket.once('close', () => reject(new SandpodError('Unavailable', 'QMP connection closed before the greeting', { object })));
    });
    await client.execute('qmp_capabilities');
    return client;
  }

  execute<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, command });
      this.socket.write(JSON.stringify(args ? { execute: command, arguments: args, id } : { execute: command, id }) + '\n');
    });
  }

  close(): void { this.socket.destroy(); }

  private onData(chunk: string): void {
    this.buf += chunk;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl).trim();
      this.buf = this.buf.slice(nl + 1);
      if (line) this.onMessage(JSON.parse(line) as Record<string, unknown>);
    }
  }

  private onMessage(m: Record<string, unknown>): void {
    if ('QMP' in m) { this.greeting?.(m); this.greeting = undefined; return; }
    if (typeof m['event'] === 'string') { this.emit('event', m as unknown as QmpEvent); return; }
    const id = m['id'];
    if (typeof id !== 'number') return;
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    const error = m['error'] as { class?: string; desc?: string } | undefined;
    if (error) p.reject(new SandpodError('Internal', `QMP ${p.command} failed: ${error.desc ?? error.class}`, { object: this.object }));
    else p.resolve(m['return']);
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
