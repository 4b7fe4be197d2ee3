// The h1 client's unit tests share this: a raw upstream that records the bytes the client writes and
// answers with the bytes a test writes, a pool with test defaults, a handler that records what the
// pool tells one exchange, and waits on the event loop and on a ManualClock.
import { expect, onTestFinished } from 'vitest';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { ManualClock } from '../../../../src/core/clock.js';
import { H1Pool, type ExchangeControl, type ExchangeHandler, type H1PoolOptions } from '../../../../src/upstream/h1/client.js';
import { startRawUpstream } from '../../../helpers/servers.js';

export const MB = 1024 * 1024;

// ---- a raw upstream: sees the bytes the client writes, answers with the bytes the test writes ----

export interface SeenRequest {
  head: string;      // request line and header lines, without the final CRLFCRLF
  lines: string[];   // head split on CRLF
  body: Buffer;      // decoded (chunked framing removed)
  wire: Buffer;      // the body as it came on the wire
  socket: Socket;
  connection: number; // 1 for the first connection the server accepted
}

export interface RawServer {
  port: number;
  connections: number;
  sockets: Socket[];
  closed: Promise<void>[]; // one per connection, resolved on its 'close'
  received: Buffer[];      // every byte received, per connection
  requests: SeenRequest[];
  // Resolves once `ready()` is true, checked now and after every connection, read, request and close.
  waitFor(ready: () => boolean): Promise<void>;
}

export function headerOf(lines: readonly string[], name: string): string | undefined {
  const prefix = `${name.toLowerCase()}:`;
  return lines.slice(1).find((l) => l.toLowerCase().startsWith(prefix))?.slice(prefix.length).trim();
}

// One complete request at the start of `buf`, or null while it is incomplete.
function takeRequest(buf: Buffer): { head: string; lines: string[]; body: Buffer; wire: Buffer; used: number } | null {
  const end = buf.indexOf('\r\n\r\n');
  if (end === -1) return null;
  const head = buf.subarray(0, end).toString('latin1');
  const lines = head.split('\r\n');
  const start = end + 4;
  if (/chunked/i.test(headerOf(lines, 'transfer-encoding') ?? '')) {
    const parts: Buffer[] = [];
    let at = start;
    for (;;) {
      const eol = buf.indexOf('\r\n', at);
      if (eol === -1) return null;
      const size = parseInt(buf.subarray(at, eol).toString('latin1'), 16);
      if (size === 0) {
        if (buf.length < eol + 4) return null; // no trailers expected
        at = eol + 4;
        break;
      }
      if (buf.length < eol + 2 + size + 2) return null;
      parts.push(buf.subarray(eol + 2, eol + 2 + size));
      at = eol + 2 + size + 2;
    }
    return { head, lines, body: Buffer.concat(parts), wire: buf.subarray(start, at), used: at };
  }
  const length = Number(headerOf(lines, 'content-length') ?? '0');
  if (buf.length < start + length) return null;
  const body = buf.subarray(start, start + length);
  return { head, lines, body, wire: body, used: start + length };
}

export async function startRawServer(onRequest: (req: SeenRequest) => void = () => undefined): Promise<RawServer> {
  const events = new EventEmitter();
  const server: RawServer = {
    port: 0,
    connections: 0,
    sockets: [],
    closed: [],
    received: [],
    requests: [],
    waitFor: (ready) =>
      new Promise((resolve) => {
        if (ready()) return resolve();
        const check = (): void => {
          if (!ready()) return;
          events.off('change', check);
          resolve();
        };
        events.on('change', check);
      }),
  };
  const up = await startRawUpstream((socket) => {
    const connection = ++server.connections;
    const index = connection - 1;
    server.sockets.push(socket);
    server.received.push(Buffer.alloc(0));
    server.closed.push(new Promise((resolve) => socket.once('close', () => resolve())));
    socket.once('close', () => events.emit('change'));
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      server.received[index] = Buffer.concat([server.received[index]!, chunk]);
      pending = Buffer.concat([pending, chunk]);
      for (let r = takeRequest(pending); r !== null; r = takeRequest(pending)) {
        pending = pending.subarray(r.used);
        const seen: SeenRequest = { head: r.head, lines: r.lines, body: r.body, wire: r.wire, socket, connection };
        server.requests.push(seen);
        onRequest(seen);
      }
      events.emit('change');
    });
    events.emit('change');
  });
  server.port = up.port;
  return server;
}

export function okResponse(body: string, extra = ''): string {
  return `HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;
}

export function pathOf(req: SeenRequest): string {
  return req.lines[0]!.split(' ')[1]!;
}

// ---- the client side ----

const DEFAULTS: H1PoolOptions = {
  connections: 8,
  connectTimeoutMs: 2_000,
  responseTimeoutMs: 2_000,
  idleTimeoutMs: 2_000,
  keepAliveTimeoutMs: 60_000, // never what closes a connection in these tests, unless one sets it
  maxHeadBytes: 16 * 1024,
};

export function newPool(port: number, options: Partial<H1PoolOptions> = {}): H1Pool {
  const pool = new H1Pool('127.0.0.1', port, { ...DEFAULTS, ...options });
  onTestFinished(() => pool.destroy());
  return pool;
}

// Records what the pool tells one exchange; `done` settles on onComplete or onError.
export class Recorder implements ExchangeHandler {
  control: ExchangeControl | null = null;
  status = 0;
  statusText = '';
  headers: string[] = [];
  chunks: Buffer[] = [];
  heads = 0;
  dataCalls = 0;
  completions = 0;
  errors: Error[] = [];
  readonly done: Promise<void>;
  private settle!: () => void;

  constructor(private readonly dataHook: ((r: Recorder) => boolean) | null = null) {
    this.done = new Promise((resolve) => (this.settle = resolve));
  }

  onStart(control: ExchangeControl): void {
    this.control = control;
  }

  onHeaders(status: number, rawHeaders: readonly string[], _resume: null, statusText: string): boolean {
    this.heads++;
    this.status = status;
    this.statusText = statusText;
    this.headers = [...rawHeaders];
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.dataCalls++;
    this.chunks.push(Buffer.from(chunk));
    return this.dataHook === null ? true : this.dataHook(this);
  }

  onComplete(): void {
    this.completions++;
    this.settle();
  }

  onError(err: Error): void {
    this.errors.push(err);
    this.settle();
  }

  get received(): number {
    return this.chunks.reduce((n, c) => n + c.length, 0);
  }

  get body(): string {
    return Buffer.concat(this.chunks).toString('latin1');
  }
}

export function codeOf(err: Error | undefined): unknown {
  return (err as { code?: unknown } | undefined)?.code;
}

export function get(pool: H1Pool, path: string, headers: string[] = [], method = 'GET', handler = new Recorder()): Recorder {
  pool.dispatch({ path, method, headers, body: null }, handler);
  return handler;
}

// Resolves once `ready()` holds, checking on each turn of the event loop (each turn polls for I/O).
export async function until(ready: () => boolean, what: string, maxTurns = 100_000): Promise<void> {
  for (let i = 0; i < maxTurns; i++) {
    if (ready()) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  throw new Error(`still waiting for ${what} after ${maxTurns} turns`);
}

// `turns` turns of the event loop during which `read()` does not change.
export async function quietFor(read: () => string, turns = 30): Promise<void> {
  let last = read();
  let still = 0;
  for (let i = 0; i < 100_000; i++) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    const now = read();
    if (now !== last) {
      last = now;
      still = 0;
    } else if (++still >= turns) return;
  }
  throw new Error('never quiet');
}

// The pool's deadlines run on `clock`: it moves to `limitMs` past now, where nothing may have
// fired yet, then one tick further, where it must have (a deadline fires after its limit and at
// most a tick later). Sweeps run inside advance(), so both checks are synchronous.
export function crossDeadline(clock: ManualClock, limitMs: number, fired: () => boolean): void {
  clock.advance(limitMs);
  expect(fired()).toBe(false);
  clock.advance(clock.tick);
  expect(fired()).toBe(true);
}

export function expectSuccess(r: Recorder, status: number, body: string): void {
  expect(r.errors).toEqual([]);
  expect(r.completions).toBe(1);
  expect(r.status).toBe(status);
  expect(r.body).toBe(body);
}
