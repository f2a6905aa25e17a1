/**
 * The agent's end of the virtio-serial port: finds the port by name, reads frames, writes frames.
 * A read of 0 bytes means the host side is not connected; the agent keeps polling until it is.
 */
import { open, read, write, readdirSync, readFileSync } from 'node:fs';
import { encodeFrame, FrameDecoder } from '../../protocol/index.js';

export function findPortDevice(name: string, sysDir = '/sys/class/virtio-ports'): string | undefined {
  let entries: string[];
  try { entries = readdirSync(sysDir); } catch { return undefined; }
  for (const e of entries) {
    try {
      if (readFileSync(`${sysDir}/${e}/name`, 'utf8').trim() === name) return `/dev/${e}`;
    } catch { /* a port without a name */ }
  }
  return undefined;
}

export class PortChannel {
  private fd = -1;
  private readonly decoder = new FrameDecoder();
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly device: string, private readonly onMessage: (value: unknown) => void) {}

  async open(): Promise<void> {
    this.fd = await new Promise<number>((resolve, reject) => open(this.device, 'r+', (err, fd) => (err ? reject(err) : resolve(fd))));
    this.readLoop();
  }

  private readLoop(): void {
    const buf = Buffer.allocUnsafe(64 * 1024);
    const next = (): void => {
      read(this.fd, buf, 0, buf.length, null, (err, n) => {
        if (err || n === 0) { setTimeout(next, err ? 200 : 20); return; }
        for (const m of this.decoder.push(Buffer.from(buf.subarray(0, n)))) this.onMessage(m);
        next();
      });
    };
    next();
  }

  /** Queues a message; frames are written whole and in order. Write errors (host gone) drop the frame. */
  send(message: unknown): Promise<void> {
    const frame = encodeFrame(message);
    this.writing = this.writing.then(() => this.writeAll(frame)).catch(() => undefined);
    return this.writing;
  }

  private async writeAll(frame: Buffer): Promise<void> {
    let off = 0;
    while (off < frame.length) {
      off += await new Promise<number>((resolve, reject) =>
        write(this.fd, frame, off, frame.length - off, null, (err, n) => (err ? reject(err) : resolve(n))));
    }
  }
}
