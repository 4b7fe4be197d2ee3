// upstream/h1/client: HTTP/1.1 keep-alive connections to one plain-TCP target, for the HTTP relay.
// Owns its sockets from connect to destroy; each carries one exchange at a time (no pipelining).
// Reads arrive through net's `onread` into one shared buffer (one small copy per read, no Readable
// stream machinery), are parsed by ResponseParser, and reach the relay through the same handler
// methods undici's dispatcher calls (https targets keep undici).
//
// Why ours: on the machine in docs/performance.md a bare node:http proxy spends ~33 µs of CPU per
// request with undici's Pool behind it and ~21 µs with this kind of client; the upstream side is
// the larger half of a Node proxy's cost per request. What it does not do: pipelining, HTTP/2,
// TLS, trailers (dropped, as before), Expect: 100-continue on its own (1xx answers are skipped).
import { connect, type Socket } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { Clock, type Sweepable } from '../../core/clock.js';
import { GatewayError } from '../../core/errors.js';
import type { DispatchOptions, ExchangeControl } from '../../core/exchange.js';
import { ResponseParser, type ResponseSink } from './response-parser.js';
import { FAULT_NONE, faultReason } from './response-faults.js';

export type { DispatchOptions, ExchangeControl };

export interface H1PoolOptions {
  readonly connections: number;        // open connections at most; more exchanges wait in a queue
  readonly connectTimeoutMs: number;
  readonly responseTimeoutMs: number;  // request sent → response head (and waiting in the queue)
  readonly idleTimeoutMs: number;      // between two reads of a response body
  readonly keepAliveTimeoutMs: number; // an unused connection is closed after this
  readonly maxHeadBytes: number;
  // What ticks the deadlines (a test's ManualClock, or one shared with other members); by default
  // the pool runs a clock of its own with a tick of a quarter of its smallest timeout.
  readonly clock?: Clock;
}

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

// Reads are synchronous callbacks, one at a time: one buffer serves every connection.
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

// What a connection's deadline guards.
const DEADLINE_NONE = 0;
const DEADLINE_CONNECT = 1;
const DEADLINE_HEADERS = 2;
const DEADLINE_BODY = 3;
const DEADLINE_IDLE = 4;

type ConnSocket = Socket & { conn: H1Connection };
type BodyStream = IncomingMessage & { exchange: H1Exchange };

class H1Exchange implements ExchangeControl {
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

export class H1Connection implements ResponseSink {
  readonly socket: Socket;
  readonly parser: ResponseParser;
  exchange: H1Exchange | null = null;
  connected = false;
  closed = false;
  // The deadline in force and the pool clock's coarse time when its phase began or the exchange
  // last moved: a field read, no clock is read on the request path (core/clock.ts).
  deadline = DEADLINE_NONE;
  sinceMs: number;
  // Reading is paused for a slow client: the body deadline waits too (undici does the same).
  paused = false;
  // How long this connection may stay unused: the pool's keepAliveTimeoutMs, or less when the
  // upstream announced a shorter Keep-Alive timeout.
  idleLimitMs: number;
  private responseDone = false;
  private readonly clock: Clock;

  constructor(readonly pool: H1Pool) {
    this.clock = pool.clock;
    this.sinceMs = pool.clock.nowMs;
    this.parser = new ResponseParser(pool.options.maxHeadBytes);
    this.idleLimitMs = pool.options.keepAliveTimeoutMs;
    const socket = connect({
      host: pool.host,
      port: pool.port,
      noDelay: true,
      keepAlive: true,
      onread: { buffer: READ_BUFFER, callback: connOnRead },
    }) as ConnSocket;
    socket.conn = this;
    socket.on('connect', connOnConnect).on('error', connOnError).on('close', connOnClose).on('drain', connOnDrain);
    this.socket = socket;
    this.setDeadline(DEADLINE_CONNECT);
  }

  setDeadline(kind: number): void {
    this.deadline = kind;
    this.sinceMs = this.clock.nowMs;
  }

  // Activity on the exchange (request body sent, response body read): the deadline starts again.
  touch(): void {
    this.sinceMs = this.clock.nowMs;
  }

  assign(ex: H1Exchange): void {
    this.exchange = ex;
    ex.conn = this;
    this.responseDone = false;
    this.parser.reset(ex.options.method === 'HEAD');
    if (!this.connected) return; // sent on connect
    this.begin(ex);
  }

  private begin(ex: H1Exchange): void {
    this.setDeadline(DEADLINE_HEADERS);
    this.resume();
    ex.send(this.socket);
  }

  onConnect(): void {
    this.connected = true;
    this.deadline = DEADLINE_NONE;
    if (this.exchange !== null) this.begin(this.exchange);
    else this.pool.release(this);
  }

  // HOT: per read from a busy upstream connection.
  onRead(chunk: Buffer): void {
    const ex = this.exchange;
    if (ex === null) {
      // Nothing was asked: an idle connection that talks is out of step.
      this.destroy();
      return;
    }
    const parser = this.parser;
    const used = parser.execute(chunk, this);
    if (parser.fault !== FAULT_NONE) {
      this.destroy();
      ex.fail(new GatewayError('UPSTREAM_BAD_RESPONSE', faultReason(parser.fault)));
      return;
    }
    if (this.responseDone) {
      // Bytes after the end of the response were never asked for.
      if (used < chunk.length) parser.keepAlive = false;
      this.finish(ex);
    } else if (this.deadline === DEADLINE_BODY) {
      this.sinceMs = this.clock.nowMs; // body bytes arrived; a head trickling in does not stretch the response deadline
    }
  }

  // ResponseSink
  onHead(parser: ResponseParser): void {
    const ex = this.exchange!;
    ex.headersSeen = true;
    this.setDeadline(DEADLINE_BODY);
    if (!ex.handler.onHeaders(parser.status, parser.rawHeaders, null, parser.statusText)) this.pause();
  }

  onBody(chunk: Buffer, last: boolean): void {
    const ex = this.exchange;
    if (ex === null || ex.ended) return;
    if (!ex.handler.onData(chunk, last)) this.pause();
  }

  private pause(): void {
    this.paused = true;
    this.socket.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.sinceMs = this.clock.nowMs;
    this.socket.resume();
  }

  onComplete(): void {
    this.responseDone = true;
  }

  // The response is complete: the handler hears it, then the connection serves the next exchange
  // if both sides of this one ended cleanly.
  private finish(ex: H1Exchange): void {
    this.exchange = null;
    this.deadline = DEADLINE_NONE;
    const hint = this.parser.keepAliveHintMs;
    if (hint !== -1) {
      // Close a second and a pool tick before the upstream does, so a request never meets a
      // connection the upstream is closing; too short a hint: use the connection once.
      this.idleLimitMs = Math.min(this.pool.options.keepAliveTimeoutMs, hint - 1000 - this.pool.tickMs);
    }
    const reusable = this.parser.keepAlive && ex.bodySent && !this.closed && this.idleLimitMs > 0;
    if (!ex.bodySent) ex.detachBody();
    ex.complete();
    if (reusable) this.pool.release(this);
    else this.destroy();
  }

  onClose(err: Error | null): void {
    if (this.closed) return;
    this.closed = true;
    const ex = this.exchange;
    if (ex !== null && !ex.ended) {
      this.exchange = null;
      if (err === null && this.parser.finishOnClose(this)) ex.complete();
      else ex.fail(err ?? new H1Error('H1_SOCKET_CLOSED', ex.headersSeen ? 'upstream closed the connection in the middle of the response' : 'upstream closed the connection before answering'));
    }
    this.pool.removed(this);
  }

  // Called on every pool tick. sinceMs is the time of the tick before the phase began, so the
  // phase may be almost a tick old or brand new: one tick is not counted, and a deadline fires
  // between its limit and a tick later.
  checkDeadline(nowMs: number, tickMs: number): void {
    if (this.deadline === DEADLINE_NONE || this.paused) return;
    const o = this.pool.options;
    const kind = this.deadline;
    const limit = kind === DEADLINE_CONNECT ? o.connectTimeoutMs : kind === DEADLINE_HEADERS ? o.responseTimeoutMs : kind === DEADLINE_BODY ? o.idleTimeoutMs : this.idleLimitMs;
    if (limit <= 0 || nowMs - this.sinceMs - tickMs < limit) return;
    const ex = this.exchange;
    this.destroy();
    if (ex === null) return; // idle or unused: closed quietly
    if (kind === DEADLINE_CONNECT) ex.fail(new H1Error('H1_CONNECT_TIMEOUT', `connect timed out after ${o.connectTimeoutMs} ms`));
    else if (kind === DEADLINE_HEADERS) ex.fail(new H1Error('H1_HEADERS_TIMEOUT', `no response head within ${o.responseTimeoutMs} ms`));
    else if (kind === DEADLINE_BODY) ex.fail(new H1Error('H1_BODY_TIMEOUT', `no response data within ${o.idleTimeoutMs} ms`));
  }

  destroy(): void {
    this.deadline = DEADLINE_NONE;
    if (!this.socket.destroyed) this.socket.destroy();
    // 'close' follows asynchronously; take the connection out of service now.
    this.closed = true;
    this.pool.removed(this);
  }
}

function connOnRead(this: ConnSocket, nread: number, buf: Buffer): boolean {
  const chunk = Buffer.allocUnsafe(nread);
  buf.copy(chunk, 0, 0, nread);
  this.conn.onRead(chunk);
  return true;
}

function connOnConnect(this: ConnSocket): void {
  this.conn.onConnect();
}

// The error is the exchange's answer (ECONNREFUSED, ECONNRESET …); 'close' follows and cleans up.
function connOnError(this: ConnSocket, err: Error): void {
  this.conn.onClose(err);
}

function connOnClose(this: ConnSocket): void {
  this.conn.onClose(null);
}

// The upstream took the request body it was slow on: stream more of it.
function connOnDrain(this: ConnSocket): void {
  const ex = this.conn.exchange;
  if (ex !== null && !ex.bodySent) ex.options.body!.resume();
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

export class H1Pool implements Sweepable {
  readonly hostHeader: string;
  readonly clock: Clock;
  private readonly all = new Set<H1Connection>();
  private readonly idle: H1Connection[] = [];   // most recently used last: warm sockets first
  private queue: H1Exchange[] = [];
  private queueHead = 0;
  private closed = false;
  private closing: (() => void) | null = null;
  private whenClosed: Promise<void> | null = null;

  constructor(readonly host: string, readonly port: number, readonly options: H1PoolOptions) {
    this.hostHeader = `${host.includes(':') ? `[${host}]` : host}:${port}`;
    let min = options.keepAliveTimeoutMs;
    for (const ms of [options.connectTimeoutMs, options.responseTimeoutMs, options.idleTimeoutMs]) if (ms > 0 && ms < min) min = ms;
    this.clock = options.clock ?? new Clock(Math.max(10, Math.min(1000, Math.floor(min / 4))));
  }

  // The tick of the clock behind the deadlines (a shared clock's may change).
  get tickMs(): number {
    return this.clock.tick;
  }

  get connections(): number {
    return this.all.size;
  }

  // HOT: per request.
  dispatch(options: DispatchOptions, handler: ExchangeHandler): void {
    const ex = new H1Exchange(this, options, handler);
    handler.onStart(ex);
    if (this.closed) {
      ex.fail(new H1Error('H1_POOL_CLOSED', 'upstream pool is closed'));
      return;
    }
    const conn = this.idle.pop();
    if (conn !== undefined) {
      conn.assign(ex);
      return;
    }
    if (this.all.size < this.options.connections) {
      this.open().assign(ex);
      return;
    }
    ex.queuedAtMs = this.clock.nowMs;
    this.queue.push(ex);
  }

  // Joins the clock first: a clock that starts now refreshes the time the connection stamps.
  private open(): H1Connection {
    this.clock.add(this);
    const conn = new H1Connection(this);
    this.all.add(conn);
    return conn;
  }

  // A connection is free: the oldest waiting exchange takes it, or it waits in the idle list.
  release(conn: H1Connection): void {
    if (conn.closed) return;
    const next = this.dequeue();
    if (next !== null) {
      conn.assign(next);
      return;
    }
    if (this.closed) {
      conn.destroy();
      return;
    }
    conn.setDeadline(DEADLINE_IDLE);
    this.idle.push(conn);
  }

  removed(conn: H1Connection): void {
    if (!this.all.delete(conn)) return;
    const i = this.idle.indexOf(conn);
    if (i !== -1) this.idle.splice(i, 1);
    // A slot came free: a waiting exchange gets a fresh connection.
    if (!this.closed && this.all.size < this.options.connections) {
      const next = this.dequeue();
      if (next !== null) this.open().assign(next);
    }
    this.maybeClosed();
  }

  private dequeue(): H1Exchange | null {
    while (this.queueHead < this.queue.length) {
      const ex = this.queue[this.queueHead]!;
      this.queue[this.queueHead++] = undefined as unknown as H1Exchange;
      if (this.queueHead === this.queue.length) {
        this.queue = [];
        this.queueHead = 0;
      }
      if (!ex.ended) return ex;
    }
    return null;
  }

  // Sweepable: once per clock tick while the pool has connections or waiting exchanges.
  sweep(nowMs: number): void {
    const tickMs = this.clock.tick;
    // Waiting exchanges first: one whose wait is over must not take a slot freed on this tick.
    const limit = this.options.responseTimeoutMs;
    for (let i = this.queueHead; i < this.queue.length; i++) {
      const ex = this.queue[i]!;
      if (!ex.ended && limit > 0 && nowMs - ex.queuedAtMs - tickMs >= limit) {
        ex.fail(new H1Error('H1_HEADERS_TIMEOUT', `no free connection to the upstream within ${limit} ms`));
      }
    }
    for (const conn of this.all) conn.checkDeadline(nowMs, tickMs);
    if (this.all.size === 0 && this.queueHead >= this.queue.length) this.clock.delete(this);
  }

  /** Lets in-flight exchanges finish, then closes every connection. */
  close(): Promise<void> {
    if (this.whenClosed !== null) return this.whenClosed;
    this.closed = true;
    for (const conn of [...this.idle]) conn.destroy();
    for (let ex = this.dequeue(); ex !== null; ex = this.dequeue()) ex.fail(new H1Error('H1_POOL_CLOSED', 'upstream pool is closed'));
    this.whenClosed = this.all.size === 0 ? this.stopped() : new Promise((resolve) => {
      this.closing = resolve;
    });
    return this.whenClosed;
  }

  /** Closes every connection now; exchanges in flight fail. */
  destroy(): Promise<void> {
    this.closed = true;
    for (let ex = this.dequeue(); ex !== null; ex = this.dequeue()) ex.fail(new H1Error('H1_POOL_CLOSED', 'upstream pool is closed'));
    for (const conn of [...this.all]) {
      const ex = conn.exchange;
      conn.destroy();
      ex?.fail(new H1Error('H1_POOL_CLOSED', 'upstream pool is closed'));
    }
    return this.stopped();
  }

  private maybeClosed(): void {
    if (this.closed && this.all.size === 0 && this.closing !== null) {
      const done = this.closing;
      this.closing = null;
      void this.stopped().then(done);
    }
  }

  private stopped(): Promise<void> {
    this.clock.delete(this);
    return Promise.resolve();
  }
}
