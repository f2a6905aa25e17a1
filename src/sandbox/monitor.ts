/**
 * The monitor of a long-lived sandbox: the one process that holds the VM and its agent connection, and
 * relays the agent protocol to any number of clients on a control socket. Clients speak exactly what the
 * agent speaks (hello, exec, stdin, signal, resize, shutdown); the monitor renumbers requests, routes each
 * process's output to the client that started it, and kills a client's processes when the client goes away.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  encodeFrame, FrameDecoder, hostMessageSchema, type GuestMessage, type HostMessage,
} from '../protocol/index.js';
import { describeError, SandpodError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Sandbox } from './sandbox.js';

export const controlSocketPath = (runDir: string): string => join(runDir, 'control.sock');

export class SandboxMonitor {
  private server: Server | undefined;
  private readonly clients = new Set<Socket>();
  private closing: Promise<void> | undefined;

  constructor(private readonly sandbox: Sandbox, private readonly log: Logger, private readonly onShutdown: () => Promise<void>) {}

  async listen(): Promise<string> {
    const path = controlSocketPath(this.sandbox.runDir);
    await rm(path, { force: true });
    this.server = createServer((socket) => this.serve(socket));
    await new Promise<void>((resolve, reject) => {
      this.server?.once('error', reject);
      this.server?.listen(path, resolve);
    });
    return path;
  }

  /** Closes the control socket and every client connection. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      // end(), not destroy(): the last exit events must still reach the clients.
      for (const c of this.clients) { c.end(); setTimeout(() => c.destroy(), 500).unref(); }
      if (this.server) this.server.close(() => resolve());
      else resolve();
    });
    return this.closing;
  }

  private serve(socket: Socket): void {
    this.clients.add(socket);
    const owned = new Set<string>();
    const decoder = new FrameDecoder();
    const send = (m: GuestMessage): void => { if (!socket.destroyed) socket.write(encodeFrame(m)); };
    socket.on('data', (d: Buffer) => { for (const raw of decoder.push(d)) void this.handle(raw, send, owned); });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.clients.delete(socket);
      for (const proc of owned) {
        this.sandbox.agent.detach(proc);
        this.sandbox.agent.request({ type: 'signal', proc, signal: 'SIGKILL' }).catch(() => undefined);
      }
    });
  }

  private async handle(raw: unknown, send: (m: GuestMessage) => void, owned: Set<string>): Promise<void> {
    const parsed = hostMessageSchema.safeParse(raw);
    if (!parsed.success) return;
    const msg: HostMessage = parsed.data;
    if (!('id' in msg)) { this.sandbox.agent.write(msg); return; }
    const fail = (err: unknown): void => {
      const kind = err instanceof SandpodError ? err.kind : 'Internal';
      send({ type: 'failure', id: msg.id, error: { kind, message: describeError(err).replace(`${this.sandbox.object}: `, '') } });
    };
    try {
      switch (msg.type) {
        case 'hello':
          send({ type: 'reply', id: msg.id, result: { nonce: msg.nonce, info: this.sandbox.info().ready } });
          return;
        case 'setup':
          throw new SandpodError('FailedPrecondition', 'the sandbox is already set up');
        case 'exec': {
          const proc = msg.proc;
          owned.add(proc);
          this.sandbox.agent.attach(proc, (e) => {
            send(e);
            if (e.type === 'exit') { owned.delete(proc); this.sandbox.agent.detach(proc); }
          });
          try {
            send({ type: 'reply', id: msg.id, result: await this.sandbox.agent.request({ type: 'exec', proc, spec: msg.spec }) });
          } catch (err) {
            owned.delete(proc);
            this.sandbox.agent.detach(proc);
            throw err;
          }
          return;
        }
        case 'signal':
          send({ type: 'reply', id: msg.id, result: await this.sandbox.agent.request({ type: 'signal', proc: msg.proc, signal: msg.signal }) });
          return;
        case 'shutdown':
          // Answer first: shutting down closes this connection. The client then waits for the monitor to exit.
          this.log.info('shutdown requested by a client');
          send({ type: 'reply', id: msg.id, result: {} });
          await this.onShutdown();
          return;
      }
    } catch (err) {
      fail(err);
    }
  }
}
