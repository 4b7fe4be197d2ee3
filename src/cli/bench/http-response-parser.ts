// cli/bench/http-response-parser: where each HTTP/1.1 response ends on a keep-alive connection: the status
// line, Content-Length, chunked bodies (sizes and CRLFs are read, data is skipped), bodies that end at close.
// Body bytes are counted, never read or copied; only a head that straddles two chunks is copied.

export const FAULT_NONE = 0;
export const FAULT_HEAD_TOO_LARGE = 1;
export const FAULT_STATUS_LINE = 2;
export const FAULT_CONTENT_LENGTH = 3;
export const FAULT_AMBIGUOUS = 4;
export const FAULT_CHUNK = 5;
export type Fault = number;

export const FAULT_MESSAGES: readonly string[] = [
  '',
  'response head larger than 64 KiB',
  'malformed status line',
  'malformed or conflicting Content-Length',
  'response with both Content-Length and Transfer-Encoding',
  'malformed chunked body',
];

export interface ResponseSink {
  /** A whole response has arrived; `close`: the server will not reuse the connection. */
  onResponse(status: number, bodyBytes: number, close: boolean): void;
}

const MAX_HEAD_BYTES = 64 * 1024;
const MAX_CHUNK_SIZE_DIGITS = 12; // 2^48 bytes: more is not a chunk, it is an attack
const CRLFCRLF = Buffer.from('\r\n\r\n');
const CR = 0x0d;
const LF = 0x0a;

const HEAD = 0;
const BODY = 1;
const UNTIL_CLOSE = 2;
const CHUNK_SIZE = 3;
const CHUNK_EXT = 4;
const CHUNK_SIZE_LF = 5;
const CHUNK_DATA = 6;
const CHUNK_DATA_CR = 7;
const CHUNK_DATA_LF = 8;
const TRAILER = 9;

function hexValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  const lower = byte | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

export class HttpResponseParser {
  /** Set by the owner when it sends HEAD: a response to it has no body whatever its headers say. */
  headRequest = false;
  private state = HEAD;
  private pending: Buffer | null = null;
  private status = 0;
  private close = false;
  private left = 0;
  private bodyBytes = 0;
  private chunkSize = 0;
  private chunkDigits = 0;
  private trailerLineBytes = 0;
  // Bumped by reset(): execute() stops when the owner dropped the connection from inside onResponse().
  private generation = 0;

  constructor(private readonly sink: ResponseSink) {}

  reset(): void {
    this.generation++;
    this.state = HEAD;
    this.pending = null;
    this.left = 0;
    this.bodyBytes = 0;
  }

  /** The connection ended: completes a body that runs until close. Returns whether it did. */
  finishAtClose(): boolean {
    if (this.state !== UNTIL_CLOSE) return false;
    this.complete();
    return true;
  }

  // HOT: per chunk. Returns a fault and never throws.
  execute(input: Buffer): Fault {
    let chunk = input;
    if (this.pending !== null) {
      chunk = Buffer.concat([this.pending, input]);
      this.pending = null;
    }
    const generation = this.generation;
    let at = 0;
    while (at < chunk.length) {
      switch (this.state) {
        case HEAD: {
          const end = chunk.indexOf(CRLFCRLF, at);
          if (end === -1) {
            if (chunk.length - at > MAX_HEAD_BYTES) return FAULT_HEAD_TOO_LARGE;
            this.pending = Buffer.from(chunk.subarray(at)); // a copy: keeps a few bytes, not the whole chunk
            return FAULT_NONE;
          }
          if (end - at > MAX_HEAD_BYTES) return FAULT_HEAD_TOO_LARGE;
          const fault = this.readHead(chunk.toString('latin1', at, end));
          if (fault !== FAULT_NONE) return fault;
          at = end + 4;
          break;
        }
        case BODY: {
          const take = Math.min(this.left, chunk.length - at);
          this.left -= take;
          this.bodyBytes += take;
          at += take;
          if (this.left === 0) this.complete();
          break;
        }
        case UNTIL_CLOSE:
          this.bodyBytes += chunk.length - at;
          at = chunk.length;
          break;
        case CHUNK_SIZE: {
          const byte = chunk[at++] as number;
          const digit = hexValue(byte);
          if (digit >= 0) {
            if (++this.chunkDigits > MAX_CHUNK_SIZE_DIGITS) return FAULT_CHUNK;
            this.chunkSize = this.chunkSize * 16 + digit;
          } else if (this.chunkDigits === 0) {
            return FAULT_CHUNK;
          } else if (byte === CR) {
            this.state = CHUNK_SIZE_LF;
          } else if (byte === 0x3b || byte === 0x20 || byte === 0x09) {
            this.state = CHUNK_EXT; // RFC 9112 §7.1.1: chunk extensions are ignored
          } else {
            return FAULT_CHUNK;
          }
          break;
        }
        case CHUNK_EXT: {
          const cr = chunk.indexOf(CR, at);
          if (cr === -1) {
            at = chunk.length;
          } else {
            at = cr + 1;
            this.state = CHUNK_SIZE_LF;
          }
          break;
        }
        case CHUNK_SIZE_LF:
          if (chunk[at++] !== LF) return FAULT_CHUNK;
          if (this.chunkSize === 0) {
            this.state = TRAILER;
            this.trailerLineBytes = 0;
          } else {
            this.state = CHUNK_DATA;
            this.left = this.chunkSize;
          }
          break;
        case CHUNK_DATA: {
          const take = Math.min(this.left, chunk.length - at);
          this.left -= take;
          this.bodyBytes += take;
          at += take;
          if (this.left === 0) this.state = CHUNK_DATA_CR;
          break;
        }
        case CHUNK_DATA_CR:
          if (chunk[at++] !== CR) return FAULT_CHUNK;
          this.state = CHUNK_DATA_LF;
          break;
        case CHUNK_DATA_LF:
          if (chunk[at++] !== LF) return FAULT_CHUNK;
          this.state = CHUNK_SIZE;
          this.chunkSize = 0;
          this.chunkDigits = 0;
          break;
        default: {
          // TRAILER: header lines after the last chunk, then an empty line.
          const byte = chunk[at++] as number;
          if (byte === LF) {
            if (this.trailerLineBytes === 0) this.complete();
            else this.trailerLineBytes = 0;
          } else if (byte !== CR) {
            if (++this.trailerLineBytes > MAX_HEAD_BYTES) return FAULT_CHUNK;
          }
        }
      }
      if (this.generation !== generation) return FAULT_NONE;
    }
    return FAULT_NONE;
  }

  private complete(): void {
    const status = this.status;
    const bytes = this.bodyBytes;
    const close = this.close;
    this.state = HEAD;
    this.bodyBytes = 0;
    this.sink.onResponse(status, bytes, close);
  }

  // Once per response: the head is a latin1 string without its final CRLFCRLF.
  private readHead(head: string): Fault {
    // "HTTP/1.1 200 OK"
    if (!head.startsWith('HTTP/1.') || head.charCodeAt(8) !== 0x20) return FAULT_STATUS_LINE;
    const d0 = head.charCodeAt(9) - 0x30;
    const d1 = head.charCodeAt(10) - 0x30;
    const d2 = head.charCodeAt(11) - 0x30;
    if (d0 < 1 || d0 > 5 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return FAULT_STATUS_LINE;
    const status = d0 * 100 + d1 * 10 + d2;
    const http10 = head.charCodeAt(7) === 0x30;
    let close = http10;
    let contentLength = -1;
    let chunked = false;
    let otherCoding = false;
    let lineStart = head.indexOf('\r\n');
    lineStart = lineStart === -1 ? head.length : lineStart + 2;
    while (lineStart < head.length) {
      let lineEnd = head.indexOf('\r\n', lineStart);
      if (lineEnd === -1) lineEnd = head.length;
      const colon = head.indexOf(':', lineStart);
      const nameLength = colon - lineStart;
      // Only three headers matter here; their names' lengths rule out every other line cheaply.
      if (colon !== -1 && colon < lineEnd && (nameLength === 14 || nameLength === 17 || nameLength === 10)) {
        const name = head.slice(lineStart, colon).toLowerCase();
        const value = head.slice(colon + 1, lineEnd).trim().toLowerCase();
        if (name === 'content-length') {
          if (!/^\d{1,15}$/.test(value)) return FAULT_CONTENT_LENGTH;
          const n = Number(value);
          if (contentLength !== -1 && contentLength !== n) return FAULT_CONTENT_LENGTH;
          contentLength = n;
        } else if (name === 'transfer-encoding') {
          // RFC 9112 §6.3: chunked must be the final coding; any other coding runs until close.
          chunked = /(^|,)\s*chunked$/.test(value);
          otherCoding = !chunked;
        } else if (name === 'connection') {
          if (/(^|,)\s*close\s*(,|$)/.test(value)) close = true;
          else if (http10 && /(^|,)\s*keep-alive\s*(,|$)/.test(value)) close = false;
        }
      }
      lineStart = lineEnd + 2;
    }
    if (contentLength !== -1 && (chunked || otherCoding)) return FAULT_AMBIGUOUS;
    this.status = status;
    this.close = close;
    this.bodyBytes = 0;
    if (status < 200 && status !== 101) return FAULT_NONE; // interim (100 Continue, 103): the real head follows
    if (this.headRequest || status === 204 || status === 304 || status === 101) {
      this.close = close || status === 101;
      this.complete();
    } else if (chunked) {
      this.state = CHUNK_SIZE;
      this.chunkSize = 0;
      this.chunkDigits = 0;
    } else if (contentLength > 0) {
      this.state = BODY;
      this.left = contentLength;
    } else if (contentLength === 0) {
      this.complete();
    } else {
      this.state = UNTIL_CLOSE;
      this.close = true;
    }
    return FAULT_NONE;
  }
}
