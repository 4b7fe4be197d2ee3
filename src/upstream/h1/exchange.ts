// upstream/h1/exchange: one request/response on the h1 client, from dispatch until onComplete or
// onError: writing the request head, streaming the request body (as is, or chunked), the handler
// calls that end it, and the H1Error it can fail with. The socket stays its connection's.
import type { Socket } from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { DispatchOptions, ExchangeControl } from '../../core/exchange.js';
import type { H1Pool } from './client.js';
import type { H1Connection } from './connection.js';

// The calls this client makes on the relay's handler (the h1 half of core/exchange's ExchangeHandler).
export interface ExchangeHandler {
  onStart(control: ExchangeControl): void;
  onHeaders(status: number, rawHeaders: readonly string[], resume: null, statusText: string): boolean;
  onData(chunk: Buffer, last: boolean): boolean; // last: onComplete follows before any other call
  onComplete(trailers: null): void;
  onError(err: Error): void;
}

// Failures of the client itself carry a code (mapped to public codes in core/errors.ts).
export class H1Error extends Error {
  constructor(readonly code: 'H1_CONNECT_TIMEOUT' | 'H1_HEADERS_TIMEOUT' | 'H1_BODY_TIMEOUT' | 'H1_SOCKET_CLOSED' | 'H1_POOL_CLOSED', message: string) {
    super(message);
    this.name = 'H1Error';
  }
}

type BodyStream = IncomingMessage & { exchange: H1Exchange };

export class H1Exchange implements ExchangeControl {
  conn: H1Connection | null = null;
  queuedAtMs = 0;         // the pool clock's time when it joined the queue
  headersSeen = false;
  bodySent: boolean;
  ended = false;          // onComplete or onError was called
  private chunked = false;
  private pendingHead: string | null = null;

  constructor(
    readonly pool: H1Pool,
    readonly options: DispatchOptions,
    readonly handler: ExchangeHandler,
  ) {
    this.bodySent = options.body === null;
  }

  // Writes the request on a connected socket: the head, then the body as it streams.
  send(socket: Socket): void {
    const o = this.options;
    const h = o.headers;
    let head = `${o.method} ${o.path} HTTP/1.1\r\n`;
    let host = false;
    for (let i = 0; i < h.length; i += 2) {
      const name = h[i]!;
      const value = h[i + 1]!;
      if (name.length === 4 && name.toLowerCase() === 'host') host = true;
      head += `${name}: ${value}\r\n`;
    }
    if (!host) head += `host: ${this.pool.hostHeader}\r\n`;
    const body = o.body;
    if (body === null) {
      socket.write(head + '\r\n', 'latin1');
      return;
    }
    this.chunked = body.headers['content-length'] === undefined;
    // The head waits for the first body bytes (or the body's end): a request whose body turns out
    // malformed at once never reaches the upstream, and head and first chunk share one write.
    this.pendingHead = this.chunked ? head + 'transfer-encoding: chunked\r\n\r\n' : head + '\r\n';
    const b = body as BodyStream;
    b.exchange = this;
    if (b.readableEnded) return this.bodyEnded();
    b.on('data', bodyOnData).on('end', bodyOnEnd).on('error', bodyOnError);
    b.resume();
  }

  // Per request body chunk: forwarded as is, or framed as one chunk.
  bodyData(chunk: Buffer): void {
    const conn = this.conn;
    if (conn === null || this.ended) return;
    const socket = conn.socket;
    let ok: boolean;
    if (chunk.length === 0) return;
    socket.cork();
    this.flushHead(socket);
    if (this.chunked) {
      socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
      socket.write(chunk);
      ok = socket.write('\r\n', 'latin1');
    } else {
      ok = socket.write(chunk);
    }
    socket.uncork();
    conn.touch();
    if (!ok) this.options.body!.pause();
  }

  bodyEnded(): void {
    const conn = this.conn;
    if (this.bodySent || conn === null || this.ended) return;
    this.bodySent = true;
    const socket = conn.socket;
    socket.cork();
    this.flushHead(socket);
    if (this.chunked) socket.write('0\r\n\r\n', 'latin1');
    socket.uncork();
    this.detachBody();
    conn.touch();
  }

  private flushHead(socket: Socket): void {
    if (this.pendingHead === null) return;
    socket.write(this.pendingHead, 'latin1');
    this.pendingHead = null;
  }

  detachBody(): void {
    const body = this.options.body;
    if (body === null) return;
    body.off('data', bodyOnData).off('end', bodyOnEnd).off('error', bodyOnError);
  }

  // ExchangeControl: the relay gives up (client gone, body too large, bad header from upstream).
  abort(err: Error): void {
    if (this.ended) return;
    const conn = this.conn;
    if (conn !== null) conn.destroy();
    this.fail(err);
  }

  // ExchangeControl: the client drained, read the upstream again.
  resume(): void {
    if (this.conn !== null && !this.ended) this.conn.resume();
  }

  fail(err: Error): void {
    if (this.ended) return;
    this.ended = true;
    this.detachBody();
    this.conn = null;
    this.handler.onError(err);
  }

  complete(): void {
    if (this.ended) return;
    this.ended = true;
    this.detachBody();
    this.conn = null;
    this.handler.onComplete(null);
  }
}

function bodyOnData(this: BodyStream, chunk: Buffer): void {
  this.exchange.bodyData(chunk);
}

function bodyOnEnd(this: BodyStream): void {
  this.exchange.bodyEnded();
}

// The client's request stream failed (it went away): the relay hears it from the response's
// 'close'; here the upstream side just stops.
function bodyOnError(this: BodyStream, err: Error): void {
  this.exchange.abort(err);
}
