// upstream/h1/connection: one keep-alive connection of the h1 client to its target: the socket from
// connect to destroy, reads handed to ResponseParser and its events to the exchange on it, and the
// deadline in force (connect, response head, body, idle) checked on each pool tick.
import { connect, type Socket } from 'node:net';
import type { Clock } from '../../core/clock.js';
import { GatewayError } from '../../core/errors.js';
import { ResponseParser, type ResponseSink } from './response-parser.js';
import { FAULT_NONE, faultReason } from './response-faults.js';
import { H1Error, type H1Exchange } from './exchange.js';
import type { H1Pool } from './client.js';

// Reads are synchronous callbacks, one at a time: one buffer serves every connection.
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

// What a connection's deadline guards.
const DEADLINE_NONE = 0;
const DEADLINE_CONNECT = 1;
const DEADLINE_HEADERS = 2;
const DEADLINE_BODY = 3;
export const DEADLINE_IDLE = 4;

type ConnSocket = Socket & { conn: H1Connection };

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
