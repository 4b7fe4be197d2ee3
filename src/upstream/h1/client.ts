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
//
// The pool is here; one connection is connection.ts, one exchange exchange.ts.
import { Clock, type Sweepable } from '../../core/clock.js';
import type { DispatchOptions, ExchangeControl } from '../../core/exchange.js';
import { DEADLINE_IDLE, H1Connection } from './connection.js';
import { H1Error, H1Exchange, type ExchangeHandler } from './exchange.js';

export type { DispatchOptions, ExchangeControl, ExchangeHandler };

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
