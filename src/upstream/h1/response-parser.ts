// upstream/h1/response-parser: an HTTP/1.x response parser (RFC 9112) for the upstream side of the
// HTTP relay. It reads the status line and headers, decides the body's framing (§6.3), and hands on
// the body without its chunked framing. Strict where a lax reading could desynchronize a pooled
// connection (obs-fold, whitespace before a colon, conflicting Content-Length, bare CR or LF): those
// are faults, and any framing we cannot trust afterwards (close-delimited, Content-Length beside
// Transfer-Encoding, bytes past the end) makes the connection single-use.
//
// Ours rather than undici's because the response side is where a Node proxy spends its time: see
// docs/performance.md (undici costs ~12 µs more per request than this client on the same machine).
// Parsers return numeric faults (response-faults.ts) and never throw; which byte may stand where is
// head-syntax.ts.
import * as faults from './response-faults.js';
import { FAULT_BAD_CHUNK, FAULT_BAD_HEADER, FAULT_BAD_LENGTH, FAULT_BAD_STATUS, FAULT_HEAD_TOO_LARGE, FAULT_UNEXPECTED_UPGRADE } from './response-faults.js';
import * as syntax from './head-syntax.js';

// What the hot loops read, as this module's own consts: the optimizing compiler reads a module's own
// const as a constant, an imported binding through a cell at each use; read directly, the 13-header
// and chunked cases of bench/response-parser.bench.ts took 5-10 % more CPU.
const { FAULT_NONE } = faults;
const { CHAR_CLASS, CHAR_TOKEN, KEEP_ALIVE_TIMEOUT, hexValue, isNamed, parseLength, statusCode } = syntax;

// What the parser is reading.
const S_HEAD = 0;
const S_LENGTH = 1;       // Content-Length body
const S_CHUNK_SIZE = 2;   // hex digits of a chunk-size line
const S_CHUNK_EXT = 3;    // after the size: extensions up to CR
const S_CHUNK_SIZE_LF = 4;
const S_CHUNK_DATA = 5;
const S_CHUNK_DATA_CR = 6;
const S_CHUNK_DATA_LF = 7;
const S_TRAILER = 8;      // trailer lines after the last chunk (dropped, as the relay drops trailers)
const S_TRAILER_LF = 9;
const S_UNTIL_CLOSE = 10; // close-delimited body
const S_DONE = 11;

const CR = 13;
const LF = 10;
const MAX_CHUNK_SIZE = 2 ** 48;
const HEAD_END = Buffer.from('\r\n\r\n');
const EMPTY = Buffer.alloc(0);

export interface ResponseSink {
  // The head is complete (1xx heads are skipped by the parser). Returning nothing; the sink reads
  // status, statusText and rawHeaders off the parser.
  onHead(parser: ResponseParser): void;
  // A piece of body, a view into the chunk given to execute(); the sink must not keep the chunk
  // beyond the call unless it owns it. `last`: the body ends with it (onComplete follows at once).
  onBody(chunk: Buffer, last: boolean): void;
  onComplete(parser: ResponseParser): void;
}

export class ResponseParser {
  status = 0;
  statusText = '';
  rawHeaders: string[] = [];
  // False when the connection cannot carry another exchange after this response.
  keepAlive = true;
  // Keep-Alive: timeout=N (RFC 2068 §19.7.1, still sent by gunicorn, Apache, Node): how long the
  // upstream keeps an idle connection, in ms; -1 when it did not say.
  keepAliveHintMs = -1;
  fault = FAULT_NONE;
  private state = S_DONE;
  private noBody = false;         // answer to HEAD
  private head: Buffer = EMPTY;   // a head split across reads, accumulated
  private left = 0;               // body bytes left (Content-Length or current chunk)
  private chunkDigits = 0;
  private trailerBytes = 0;
  private lineBytes = 0;

  constructor(private readonly maxHeadBytes: number) {}

  /** Starts a new response; `noBody` for the answer to a HEAD request. */
  reset(noBody: boolean): void {
    this.state = S_HEAD;
    this.noBody = noBody;
    this.status = 0;
    this.statusText = '';
    this.rawHeaders = [];
    this.keepAlive = true;
    this.keepAliveHintMs = -1;
    this.fault = FAULT_NONE;
    this.head = EMPTY;
  }

  get done(): boolean {
    return this.state === S_DONE;
  }

  get readingUntilClose(): boolean {
    return this.state === S_UNTIL_CLOSE;
  }

  get headComplete(): boolean {
    return this.state !== S_HEAD;
  }

  /** The connection ended: completes a close-delimited body; true when the response is complete. */
  finishOnClose(sink: ResponseSink): boolean {
    if (this.state === S_UNTIL_CLOSE) {
      this.state = S_DONE;
      sink.onComplete(this);
      return true;
    }
    return this.state === S_DONE;
  }

  // HOT: per read of a busy upstream connection. Returns the bytes used; stops at the end of the
  // response (what follows is not ours) or at a fault (this.fault).
  execute(chunk: Buffer, sink: ResponseSink): number {
    let at = 0;
    const end = chunk.length;
    while (at < end && this.fault === FAULT_NONE) {
      switch (this.state) {
        case S_HEAD: {
          const used = this.readHead(chunk, at, sink);
          if (used === -1) return end; // partial head kept
          at = used;
          break;
        }
        case S_LENGTH: {
          const n = Math.min(this.left, end - at);
          this.left -= n;
          sink.onBody(at === 0 && n === end ? chunk : chunk.subarray(at, at + n), this.left === 0);
          at += n;
          if (this.left === 0) this.complete(sink);
          break;
        }
        case S_UNTIL_CLOSE:
          sink.onBody(at === 0 ? chunk : chunk.subarray(at), false);
          return end;
        case S_CHUNK_DATA: {
          const n = Math.min(this.left, end - at);
          this.left -= n;
          sink.onBody(chunk.subarray(at, at + n), false);
          at += n;
          if (this.left === 0) this.state = S_CHUNK_DATA_CR;
          break;
        }
        case S_DONE:
          return at;
        default:
          at = this.readFraming(chunk, at, end, sink);
      }
    }
    return this.fault === FAULT_NONE ? at : end;
  }

  // The byte-wise part of chunked framing: size lines, CRLFs after data, trailers.
  private readFraming(chunk: Buffer, at: number, end: number, sink: ResponseSink): number {
    for (; at < end; at++) {
      const c = chunk[at]!;
      switch (this.state) {
        case S_CHUNK_SIZE: {
          const digit = hexValue(c);
          if (digit !== -1) {
            this.left = this.left * 16 + digit;
            if (++this.chunkDigits > 12 || this.left > MAX_CHUNK_SIZE) return this.fail(FAULT_BAD_CHUNK);
            continue;
          }
          if (this.chunkDigits === 0) return this.fail(FAULT_BAD_CHUNK);
          if (c === CR) this.state = S_CHUNK_SIZE_LF;
          else if (c === 0x3b /* ; */ || c === 0x20 || c === 0x09) this.state = S_CHUNK_EXT;
          else return this.fail(FAULT_BAD_CHUNK);
          continue;
        }
        case S_CHUNK_EXT:
          if (c === CR) this.state = S_CHUNK_SIZE_LF;
          else if (c === LF || (c < 0x20 && c !== 0x09) || c === 0x7f) return this.fail(FAULT_BAD_CHUNK);
          else if (++this.lineBytes > 4096) return this.fail(FAULT_BAD_CHUNK);
          continue;
        case S_CHUNK_SIZE_LF:
          if (c !== LF) return this.fail(FAULT_BAD_CHUNK);
          if (this.left === 0) {
            this.state = S_TRAILER;
            this.trailerBytes = 0;
            this.lineBytes = 0;
            continue;
          }
          this.state = S_CHUNK_DATA;
          return at + 1;
        case S_CHUNK_DATA_CR:
          if (c !== CR) return this.fail(FAULT_BAD_CHUNK);
          this.state = S_CHUNK_DATA_LF;
          continue;
        case S_CHUNK_DATA_LF:
          if (c !== LF) return this.fail(FAULT_BAD_CHUNK);
          this.startChunk();
          continue;
        case S_TRAILER:
          if (c === CR) this.state = S_TRAILER_LF;
          else if (c === LF || ++this.trailerBytes > this.maxHeadBytes) return this.fail(FAULT_BAD_CHUNK);
          else this.lineBytes++;
          continue;
        case S_TRAILER_LF:
          if (c !== LF) return this.fail(FAULT_BAD_CHUNK);
          if (this.lineBytes === 0) {
            this.complete(sink);
            return at + 1;
          }
          this.lineBytes = 0;
          this.state = S_TRAILER;
          continue;
        default:
          return at;
      }
    }
    return at;
  }

  private startChunk(): void {
    this.state = S_CHUNK_SIZE;
    this.left = 0;
    this.chunkDigits = 0;
    this.lineBytes = 0;
  }

  private fail(fault: number): number {
    this.fault = fault;
    this.keepAlive = false;
    return Number.MAX_SAFE_INTEGER;
  }

  private complete(sink: ResponseSink): void {
    this.state = S_DONE;
    sink.onComplete(this);
  }

  // Returns the offset after the head, or -1 when the head is not complete yet (kept for later).
  private readHead(chunk: Buffer, at: number, sink: ResponseSink): number {
    let buf = chunk;
    let from = at;
    if (this.head.length > 0) {
      buf = Buffer.concat([this.head, chunk.subarray(at)]);
      from = 0;
    }
    // A terminator can straddle reads: search from a little before the new bytes.
    const endAt = buf.indexOf(HEAD_END, Math.max(from, this.head.length - 3));
    if (endAt === -1) {
      // Up to 3 bytes may be the start of the terminator: the limit is on the head before it.
      if (buf.length - from > this.maxHeadBytes + 3) {
        this.fail(FAULT_HEAD_TOO_LARGE);
        return chunk.length;
      }
      this.head = buf === chunk ? Buffer.from(chunk.subarray(at)) : buf;
      return -1;
    }
    if (endAt - from > this.maxHeadBytes) {
      this.fail(FAULT_HEAD_TOO_LARGE);
      return chunk.length;
    }
    const consumedOfChunk = buf === chunk ? endAt + 4 : endAt + 4 - this.head.length + at;
    this.head = EMPTY;
    this.parseHead(buf.toString('latin1', from, endAt), buf, from);
    if (this.fault !== FAULT_NONE) return chunk.length;
    if (this.status < 200) {
      // 1xx informational: skipped, the real answer follows (101 was never asked for).
      if (this.status === 101) {
        this.fail(FAULT_UNEXPECTED_UPGRADE);
        return chunk.length;
      }
      this.reset(this.noBody);
      return consumedOfChunk;
    }
    sink.onHead(this);
    if (this.state === S_DONE) sink.onComplete(this);
    return consumedOfChunk;
  }

  // Parses the status line and header lines of one head (no final CRLFCRLF) and sets the framing.
  // `text` is bytes[base, base + text.length) as latin1: the header loop scans the bytes (a typed
  // array read is cheaper than charCodeAt) and slices names and values out of the string.
  private parseHead(text: string, bytes: Buffer, base: number): void {
    let eol = text.indexOf('\r\n');
    if (eol === -1) eol = text.length;
    // HTTP/1.x SP 3DIGIT [SP reason]
    if (eol < 12 || !text.startsWith('HTTP/1.') || text.charCodeAt(8) !== 0x20) return void this.fail(FAULT_BAD_STATUS);
    const minor = text.charCodeAt(7);
    if (minor !== 0x30 && minor !== 0x31) return void this.fail(FAULT_BAD_STATUS);
    const status = statusCode(text);
    if (status === -1 || (eol > 12 && text.charCodeAt(12) !== 0x20)) return void this.fail(FAULT_BAD_STATUS);
    for (let i = 13; i < eol; i++) if (CHAR_CLASS[text.charCodeAt(i)] === 0) return void this.fail(FAULT_BAD_STATUS);
    const reason = eol > 13 ? text.slice(13, eol) : '';
    this.status = status;
    this.statusText = reason;
    let close = false;      // a Connection: close on any line
    let keepAliveToken = false;
    let length = -1;
    let chunked = false;
    let encoded = false;
    const raw = this.rawHeaders;
    const n = text.length;
    // One pass per line: the name (token chars up to the colon: rejects obs-fold and whitespace
    // before the colon), OWS, the value (trailing OWS dropped), CRLF.
    const end = base + n;
    for (let i = base + eol + 2; i < end; ) {
      const start = i;
      while (i < end && CHAR_CLASS[bytes[i]!] === CHAR_TOKEN) i++;
      if (i === start || i === end || bytes[i] !== 0x3a) return void this.fail(FAULT_BAD_HEADER);
      const name = text.slice(start - base, i - base);
      i++;
      while (i < end && (bytes[i] === 0x20 || bytes[i] === 0x09)) i++;
      const from = i;
      let to = i;
      for (; i < end; i++) {
        const c = bytes[i]!;
        if (c === CR) break;
        if (CHAR_CLASS[c] === 0) return void this.fail(FAULT_BAD_HEADER);
        if (c !== 0x20 && c !== 0x09) to = i + 1;
      }
      if (i < end) {
        if (i + 1 >= end || bytes[i + 1] !== LF) return void this.fail(FAULT_BAD_HEADER);
        i += 2;
      }
      const value = text.slice(from - base, to - base);
      raw.push(name, value);
      switch (name.length) {
        case 10:
          if (isNamed(name, 'connection')) {
            const tokens = value.toLowerCase();
            if (tokens.includes('close')) close = true;
            if (tokens.includes('keep-alive')) keepAliveToken = true;
          } else if (isNamed(name, 'keep-alive')) {
            const hint = KEEP_ALIVE_TIMEOUT.exec(value);
            if (hint !== null) this.keepAliveHintMs = Math.min(Number(hint[1]), 86_400) * 1000;
          }
          break;
        case 14:
          if (isNamed(name, 'content-length')) {
            const n = parseLength(value);
            if (n === -1 || (length !== -1 && n !== length)) return void this.fail(FAULT_BAD_LENGTH);
            length = n;
          }
          break;
        case 17:
          if (isNamed(name, 'transfer-encoding')) {
            encoded = true;
            // Only the final coding decides (RFC 9112 §6.3); a later header line overrides.
            chunked = /(?:^|,)[ \t]*chunked[ \t]*$/i.test(value);
          }
          break;
      }
    }
    // HTTP/1.1 persists unless closed; HTTP/1.0 only when asked to and never after Transfer-Encoding
    // (RFC 9112 §9.3, §6.1).
    this.keepAlive = !close && (minor === 0x31 || (keepAliveToken && !encoded));
    if (this.noBody || status < 200 || status === 204 || status === 304) {
      this.state = S_DONE;
    } else if (encoded) {
      // Transfer-Encoding wins over Content-Length, and a message that carried both is not trusted
      // to leave the connection in sync.
      if (length !== -1) this.keepAlive = false;
      if (chunked) this.startChunk();
      else this.untilClose();
    } else if (length !== -1) {
      this.left = length;
      this.state = length === 0 ? S_DONE : S_LENGTH;
    } else {
      this.untilClose();
    }
  }

  private untilClose(): void {
    this.state = S_UNTIL_CLOSE;
    this.keepAlive = false;
  }
}
