/**
 * Framing for the host ↔ guest byte stream. virtio-serial has no message boundaries and no connection
 * semantics: a reconnecting reader can see the tail of an old message. Every frame therefore starts with a
 * magic marker and carries its length and a CRC32 of the payload; the decoder skips anything that does not
 * check out and resynchronises on the next marker.
 *
 *   offset 0  'S' 'P' 'D' '1'   magic
 *          4  u32 BE            payload length
 *          8  u32 BE            CRC32 of the payload
 *         12  payload           UTF-8 JSON
 */
import { crc32 } from 'node:zlib';

export const FRAME_MAGIC = Buffer.from('SPD1', 'latin1');
export const FRAME_HEADER = 12;
/** Largest payload accepted; anything bigger is treated as corruption. */
export const MAX_FRAME_PAYLOAD = 4 * 1024 * 1024;

export function encodeFrame(message: unknown): Buffer {
  const payload = Buffer.from(JSON.stringify(message), 'utf8');
  if (payload.length > MAX_FRAME_PAYLOAD) throw new RangeError(`frame payload of ${payload.length} bytes exceeds ${MAX_FRAME_PAYLOAD}`);
  const header = Buffer.alloc(FRAME_HEADER);
  FRAME_MAGIC.copy(header, 0);
  header.writeUInt32BE(payload.length, 4);
  header.writeUInt32BE(crc32(payload) >>> 0, 8);
  return Buffer.concat([header, payload]);
}

export interface DecodeStats {
  /** Bytes dropped while looking for a valid frame. */
  skippedBytes: number;
}

/**
 * Incremental decoder. Feed it chunks; it returns the parsed JSON values of every complete, intact frame.
 * Frames whose payload is not JSON are skipped like corrupt bytes.
 */
export class FrameDecoder {
  private buf: Buffer = Buffer.alloc(0);
  readonly stats: DecodeStats = { skippedBytes: 0 };

  push(chunk: Buffer): unknown[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: unknown[] = [];
    for (;;) {
      const start = this.buf.indexOf(FRAME_MAGIC);
      if (start < 0) {
        // Keep a possible partial marker at the end.
        const keep = Math.min(this.buf.length, FRAME_MAGIC.length - 1);
        this.skip(this.buf.length - keep);
        return out;
      }
      this.skip(start);
      if (this.buf.length < FRAME_HEADER) return out;
      const length = this.buf.readUInt32BE(4);
      if (length > MAX_FRAME_PAYLOAD) { this.skip(1); continue; }
      if (this.buf.length < FRAME_HEADER + length) return out;
      const payload = this.buf.subarray(FRAME_HEADER, FRAME_HEADER + length);
      if ((crc32(payload) >>> 0) !== this.buf.readUInt32BE(8)) { this.skip(1); continue; }
      let value: unknown;
      try {
        value = JSON.parse(payload.toString('utf8'));
      } catch {
        this.skip(1);
        continue;
      }
      this.buf = this.buf.subarray(FRAME_HEADER + length);
      out.push(value);
    }
  }

  private skip(n: number): void {
    if (n <= 0) return;
    this.stats.skippedBytes += n;
    this.buf = this.buf.subarray(n);
  }
}
