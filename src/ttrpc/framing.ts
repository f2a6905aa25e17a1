/**
 * ttrpc framing: a 10-byte big-endian header (payload length, stream id, message type, flags) and the payload.
 * Payloads over 4 MiB are refused on both sides.
 */
export const HEADER_LENGTH = 10;
export const MAX_PAYLOAD = 4 << 20;

export const enum MessageType { Request = 1, Response = 2 }

export interface Frame { streamId: number; type: number; flags: number; payload: Buffer }

export function encodeTtrpcFrame(streamId: number, type: MessageType, payload: Uint8Array): Buffer {
  if (payload.length > MAX_PAYLOAD) throw new RangeError(`ttrpc message of ${payload.length} bytes exceeds ${MAX_PAYLOAD}`);
  const header = Buffer.alloc(HEADER_LENGTH);
  header.writeUInt32BE(payload.length, 0);
  header.writeUInt32BE(streamId, 4);
  header.writeUInt8(type, 8);
  header.writeUInt8(0, 9);
  return Buffer.concat([header, payload]);
}

/** A frame whose payload was too large: its bytes are skipped, and the stream can be answered with an error. */
export interface OversizedFrame { streamId: number; type: number; length: number }

export class TtrpcFrameReader {
  private buf: Buffer = Buffer.alloc(0);
  private skipping = 0;

  constructor(private readonly onFrame: (f: Frame) => void, private readonly onOversized: (f: OversizedFrame) => void) {}

  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    for (;;) {
      if (this.skipping > 0) {
        const n = Math.min(this.skipping, this.buf.length);
        this.skipping -= n;
        this.buf = this.buf.subarray(n);
        if (this.skipping > 0) return;
      }
      if (this.buf.length < HEADER_LENGTH) return;
      const length = this.buf.readUInt32BE(0);
      const streamId = this.buf.readUInt32BE(4);
      const type = this.buf.readUInt8(8);
      const flags = this.buf.readUInt8(9);
      if (length > MAX_PAYLOAD) {
        this.buf = this.buf.subarray(HEADER_LENGTH);
        this.skipping = length;
        this.onOversized({ streamId, type, length });
        continue;
      }
      if (this.buf.length < HEADER_LENGTH + length) return;
      const payload = Buffer.from(this.buf.subarray(HEADER_LENGTH, HEADER_LENGTH + length));
      this.buf = this.buf.subarray(HEADER_LENGTH + length);
      this.onFrame({ streamId, type, flags, payload });
    }
  }
}
