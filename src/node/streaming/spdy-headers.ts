/**
 * SPDY/3 header blocks (draft 3, §2.6.10): a count and length-prefixed name/value pairs, carried in one zlib
 * stream per direction of a connection that starts from the SPDY/3 dictionary. We write stored (uncompressed)
 * deflate blocks, so our side never compresses; we read what the peer compressed (Go's spdystream compresses
 * at the best level and sync-flushes after each block).
 */
import { constants, inflateRawSync } from 'node:zlib';

/** The words of the SPDY/3 dictionary, each stored with a 4-byte length, then a run of raw text. */
const dictionaryWords = [
  'options', 'head', 'post', 'put', 'delete', 'trace', 'accept', 'accept-charset', 'accept-encoding', 'accept-language',
  'accept-ranges', 'age', 'allow', 'authorization', 'cache-control', 'connection', 'content-base', 'content-encoding',
  'content-language', 'content-length', 'content-location', 'content-md5', 'content-range', 'content-type', 'date', 'etag',
  'expect', 'expires', 'from', 'host', 'if-match', 'if-modified-since', 'if-none-match', 'if-range', 'if-unmodified-since',
  'last-modified', 'location', 'max-forwards', 'pragma', 'proxy-authenticate', 'proxy-authorization', 'range', 'referer',
  'retry-after', 'server', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'user-agent', 'vary', 'via', 'warning',
  'www-authenticate', 'method', 'get', 'status', '200 OK', 'version', 'HTTP/1.1', 'url', 'public', 'set-cookie', 'keep-alive',
  'origin',
];
const dictionaryTail = '100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505'
  + '203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized403 Forbidden'
  + '404 Not Found500 Internal Server Error501 Not Implemented503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept'
  + ' Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,'
  + 'application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age=gzip,deflate,sdch'
  + 'charset=utf-8charset=iso-8859-1,utf-,*,enq=0.';

/** The 1423-byte SPDY/3 header dictionary; its Adler-32 (0xe3c6a7c2) is what a zlib header names it by. */
export const spdy3Dictionary: Buffer = Buffer.concat([
  ...dictionaryWords.flatMap((w) => [u32(w.length), Buffer.from(w, 'latin1')]),
  Buffer.from(dictionaryTail, 'latin1'),
]);

/** A zlib stream header that says "preset dictionary 0xe3c6a7c2" (SPDY/3 §2.6.10.1). */
const zlibHeader = Buffer.from([0x78, 0xbb, 0xe3, 0xc6, 0xa7, 0xc2]);
/**
 * An empty stored block: what zlib's Z_SYNC_FLUSH ends each header block with. Go's inflater returns what it has
 * when it meets one; without it, it reads on past the frame for the next block and fails for good.
 */
const syncFlush = Buffer.from([0x00, 0x00, 0x00, 0xff, 0xff]);
/** Deflate looks back at most this far, into earlier blocks and the dictionary. */
const windowBytes = 32 * 1024;

export type SpdyHeaders = Record<string, string>;

export class HeaderBlockError extends Error {}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n, 0);
  return b;
}

/** Writes header blocks as stored deflate blocks continuing one zlib stream (one encoder per connection). */
export class HeaderEncoder {
  private started = false;

  encode(headers: SpdyHeaders): Buffer {
    const entries = Object.entries(headers);
    const parts: Buffer[] = [u32(entries.length)];
    for (const [name, value] of entries) {
      const n = Buffer.from(name.toLowerCase());
      const v = Buffer.from(value);
      parts.push(u32(n.length), n, u32(v.length), v);
    }
    const block = Buffer.concat(parts);
    if (block.length > 0xffff) throw new RangeError(`SPDY header block of ${block.length} bytes does not fit one stored deflate block`);
    const stored = Buffer.alloc(5);
    stored.writeUInt16LE(block.length, 1);
    stored.writeUInt16LE(~block.length & 0xffff, 3);
    const prefix = this.started ? Buffer.alloc(0) : zlibHeader;
    this.started = true;
    return Buffer.concat([prefix, stored, block, syncFlush]);
  }
}

/**
 * Reads the peer's header blocks, one zlib stream per connection. Each block ends with a sync flush, so it is a
 * whole number of deflate blocks: it inflates on its own given the window before it (the dictionary, then
 * everything inflated so far), which keeps decoding synchronous and in frame order.
 */
export class HeaderDecoder {
  private window: Buffer = spdy3Dictionary;
  private started = false;

  decode(block: Buffer): SpdyHeaders {
    let raw = block;
    if (!this.started) {
      if (block.length < 2 || (block.readUInt16BE(0) % 31) !== 0 || (block[0]! & 0x0f) !== 8) throw new HeaderBlockError('the first header block does not start a zlib stream');
      raw = block.subarray((block[1]! & 0x20) !== 0 ? 6 : 2);
      this.started = true;
    }
    let plain: Buffer;
    try {
      plain = inflateRawSync(raw, { dictionary: this.window, finishFlush: constants.Z_SYNC_FLUSH });
    } catch (err) {
      throw new HeaderBlockError(`a header block does not inflate: ${(err as Error).message}`);
    }
    const joined = Buffer.concat([this.window, plain]);
    this.window = joined.subarray(Math.max(0, joined.length - windowBytes));
    return parseNameValueBlock(plain);
  }
}

/** A decompressed name/value block; names are lower case on the wire, repeated values are NUL-separated. */
export function parseNameValueBlock(plain: Buffer): SpdyHeaders {
  let at = 0;
  const take = (): Buffer => {
    if (at + 4 > plain.length) throw new HeaderBlockError('a header block ends inside a length');
    const length = plain.readUInt32BE(at);
    if (at + 4 + length > plain.length) throw new HeaderBlockError('a header block ends inside a name or value');
    const part = plain.subarray(at + 4, at + 4 + length);
    at += 4 + length;
    return part;
  };
  if (plain.length < 4) throw new HeaderBlockError('a header block has no pair count');
  const count = plain.readUInt32BE(0);
  at = 4;
  const headers: SpdyHeaders = {};
  for (let i = 0; i < count; i++) {
    const name = take().toString('latin1');
    headers[name] = take().toString();
  }
  return headers;
}
