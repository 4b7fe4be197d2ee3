import { describe, test, expect, onTestFinished } from 'vitest';
import { request, type IncomingMessage, type ServerResponse } from 'node:http';
import { EventEmitter, once } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { ManualClock } from '../../../../src/core/clock.js';
import { GatewayError } from '../../../../src/core/errors.js';
import { H1Error, H1Pool, type ExchangeControl, type ExchangeHandler, type H1PoolOptions } from '../../../../src/upstream/h1/client.js';
import { startGateway, proxyConfig } from '../../../helpers/gateway.js';
import { startHttpUpstream, startRawUpstream } from '../../../helpers/servers.js';
import { send, jsonOf, errorCodeOf, closedPort, startEchoUpstream, type Seen } from '../../../helpers/http.js';

const MB = 1024 * 1024;

// ---- a raw upstream: sees the bytes the client writes, answers with the bytes the test writes ----

interface SeenRequest {
  head: string;      // request line and header lines, without the final CRLFCRLF
  lines: string[];   // head split on CRLF
  body: Buffer;      // decoded (chunked framing removed)
  wire: Buffer;      // the body as it came on the wire
  socket: Socket;
  connection: number; // 1 for the first connection the server accepted
}

interface RawServer {
  port: number;
  connections: number;
  sockets: Socket[];
  closed: Promise<void>[]; // one per connection, resolved on its 'close'
  received: Buffer[];      // every byte received, per connection
  requests: SeenRequest[];
  // Resolves once `ready()` is true, checked now and after every connection, read, request and close.
  waitFor(ready: () => boolean): Promise<void>;
}

function headerOf(lines: readonly string[], name: string): string | undefined {
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

async function startRawServer(onRequest: (req: SeenRequest) => void = () => undefined): Promise<RawServer> {
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

function okResponse(body: string, extra = ''): string {
  return `HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;
}

function pathOf(req: SeenRequest): string {
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

function newPool(port: number, options: Partial<H1PoolOptions> = {}): H1Pool {
  const pool = new H1Pool('127.0.0.1', port, { ...DEFAULTS, ...options });
  onTestFinished(() => pool.destroy());
  return pool;
}

// Records what the pool tells one exchange; `done` settles on onComplete or onError.
class Recorder implements ExchangeHandler {
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

function codeOf(err: Error | undefined): unknown {
  return (err as { code?: unknown } | undefined)?.code;
}

function get(pool: H1Pool, path: string, headers: string[] = [], method = 'GET', handler = new Recorder()): Recorder {
  pool.dispatch({ path, method, headers, body: null }, handler);
  return handler;
}

// Resolves once `ready()` holds, checking on each turn of the event loop (each turn polls for I/O).
async function until(ready: () => boolean, what: string, maxTurns = 100_000): Promise<void> {
  for (let i = 0; i < maxTurns; i++) {
    if (ready()) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  throw new Error(`still waiting for ${what} after ${maxTurns} turns`);
}

// `turns` turns of the event loop during which `read()` does not change.
async function quietFor(read: () => string, turns = 30): Promise<void> {
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
function crossDeadline(clock: ManualClock, limitMs: number, fired: () => boolean): void {
  clock.advance(limitMs);
  expect(fired()).toBe(false);
  clock.advance(clock.tick);
  expect(fired()).toBe(true);
}

function expectSuccess(r: Recorder, status: number, body: string): void {
  expect(r.errors).toEqual([]);
  expect(r.completions).toBe(1);
  expect(r.status).toBe(status);
  expect(r.body).toBe(body);
}

// ---- connection reuse ----

describe('keep-alive', () => {
  test('two sequential requests share one connection', async () => {
    const server = await startRawServer((req) => req.socket.write(okResponse(`hello ${pathOf(req)}`)));
    const pool = newPool(server.port);
    const a = get(pool, '/a');
    await a.done;
    expectSuccess(a, 200, 'hello /a');
    const b = get(pool, '/b');
    await b.done;
    expectSuccess(b, 200, 'hello /b');
    expect(server.connections).toBe(1);
    expect(server.requests.map((r) => r.connection)).toEqual([1, 1]);
    expect(pool.connections).toBe(1);
  });

  test('a response with Connection: close: the client closes that connection and the next request opens another', async () => {
    const server = await startRawServer((req) => req.socket.write(okResponse('bye', 'Connection: close\r\n'))); // never closes itself
    const pool = newPool(server.port);
    const a = get(pool, '/a');
    await a.done;
    expectSuccess(a, 200, 'bye');
    expect(pool.connections).toBe(0); // out of service as the response completes
    await server.closed[0]; // closed by the client
    const b = get(pool, '/b');
    await b.done;
    expectSuccess(b, 200, 'bye');
    expect(server.connections).toBe(2);
    expect(server.requests.map((r) => r.connection)).toEqual([1, 2]);
  });

  test('Keep-Alive: timeout=1 from the upstream: too short to reuse safely, so the connection serves one exchange', async () => {
    const server = await startRawServer((req) => req.socket.write(okResponse('short', 'Keep-Alive: timeout=1, max=100\r\n')));
    const pool = newPool(server.port);
    const a = get(pool, '/a');
    await a.done;
    expectSuccess(a, 200, 'short');
    expect(pool.connections).toBe(0);
    await server.closed[0];
    const b = get(pool, '/b');
    await b.done;
    expect(server.requests.map((r) => r.connection)).toEqual([1, 2]);
  });

  test('Keep-Alive: timeout=30 from the upstream: the connection is reused', async () => {
    const server = await startRawServer((req) => req.socket.write(okResponse('long', 'Keep-Alive: timeout=30\r\n')));
    const pool = newPool(server.port);
    await get(pool, '/a').done;
    await get(pool, '/b').done;
    expect(server.requests.map((r) => r.connection)).toEqual([1, 1]);
  });

  test('an HTTP/1.0 response without keep-alive is not reused', async () => {
    const server = await startRawServer((req) => req.socket.write('HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok'));
    const pool = newPool(server.port);
    await get(pool, '/a').done;
    expect(pool.connections).toBe(0);
    await server.closed[0];
    const b = get(pool, '/b');
    await b.done;
    expectSuccess(b, 200, 'ok');
    expect(server.connections).toBe(2);
  });

  test('a close-delimited body is delivered in full when the upstream closes', async () => {
    const payload = randomBytes(300 * 1024).toString('latin1');
    const server = await startRawServer((req) => {
      req.socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n');
      req.socket.write(Buffer.from(payload.slice(0, 1000), 'latin1'));
      req.socket.end(Buffer.from(payload.slice(1000), 'latin1'));
    });
    const pool = newPool(server.port);
    const r = get(pool, '/stream');
    await r.done;
    expectSuccess(r, 200, payload);
    expect(r.headers).toEqual(['Content-Type', 'application/octet-stream']);
    await until(() => pool.connections === 0, 'the pool to drop the closed connection');
  });

  test('bytes after the end of a response: that connection is not reused', async () => {
    const server = await startRawServer((req) => {
      // One write: the answer and bytes nobody asked for.
      if (req.connection === 1) req.socket.write(okResponse('ok') + 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nextra');
      else req.socket.write(okResponse('fresh'));
    });
    const pool = newPool(server.port);
    const a = get(pool, '/a');
    await a.done;
    expectSuccess(a, 200, 'ok');
    expect(pool.connections).toBe(0);
    await server.closed[0];
    const b = get(pool, '/b');
    await b.done;
    expectSuccess(b, 200, 'fresh'); // not the stray "extra" answer
    expect(server.connections).toBe(2);
  });

  test('an idle connection that receives unsolicited bytes is closed', async () => {
    const server = await startRawServer((req) => req.socket.write(okResponse('ok')));
    const pool = newPool(server.port);
    await get(pool, '/a').done;
    expect(pool.connections).toBe(1);
    server.sockets[0]!.write('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nbad');
    await server.closed[0];
    await until(() => pool.connections === 0, 'the pool to drop the connection');
    const b = get(pool, '/b');
    await b.done;
    expectSuccess(b, 200, 'ok');
    expect(server.connections).toBe(2);
  });

  test('the upstream closing an idle keep-alive connection: the next request succeeds on a fresh connection', async () => {
    const server = await startRawServer((req) => req.socket.write(okResponse(`n${req.connection}`)));
    const pool = newPool(server.port);
    const a = get(pool, '/a');
    await a.done;
    expectSuccess(a, 200, 'n1');
    server.sockets[0]!.end();
    await server.closed[0];
    await until(() => pool.connections === 0, 'the pool to notice the close');
    const b = get(pool, '/b');
    await b.done;
    expectSuccess(b, 200, 'n2');
    expect(server.connections).toBe(2);
  });

  test('an idle connection is closed after keepAliveTimeoutMs', async () => {
    const server = await startRawServer((req) => req.socket.write(okResponse('ok')));
    const clock = new ManualClock(10);
    const pool = newPool(server.port, { keepAliveTimeoutMs: 100, clock });
    await get(pool, '/a').done;
    crossDeadline(clock, 100, () => pool.connections === 0);
    await server.closed[0];
  });

  test('an answer to HEAD with a Content-Length completes without a body, and the connection is reused', async () => {
    const server = await startRawServer((req) => {
      if (req.lines[0]!.startsWith('HEAD ')) req.socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n');
      else req.socket.write(okResponse('after'));
    });
    const pool = newPool(server.port);
    const h = get(pool, '/h', [], 'HEAD');
    await h.done;
    expectSuccess(h, 200, '');
    expect(h.dataCalls).toBe(0);
    const g = get(pool, '/g');
    await g.done;
    expectSuccess(g, 200, 'after');
    expect(server.connections).toBe(1);
  });

  test('1xx answers are skipped: the handler hears only the final response', async () => {
    const server = await startRawServer((req) => {
      req.socket.write('HTTP/1.1 100 Continue\r\n\r\n');
      req.socket.write('HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n');
      req.socket.write(okResponse('final', 'X-Final: 1\r\n'));
    });
    const pool = newPool(server.port);
    const r = get(pool, '/');
    await r.done;
    expectSuccess(r, 200, 'final');
    expect(r.heads).toBe(1);
    expect(r.headers).toEqual(['Content-Length', '5', 'X-Final', '1']);
  });

  test('connections: 1 with three concurrent dispatches: served one after another on one connection, all succeed', async () => {
    const recorders: Recorder[] = [];
    const completedWhenSeen: number[] = [];
    const server = await startRawServer((req) => {
      completedWhenSeen.push(recorders.filter((r) => r.completions > 0).length);
      req.socket.write(okResponse(`answer ${pathOf(req)}`));
    });
    const pool = newPool(server.port, { connections: 1 });
    for (const p of ['/1', '/2', '/3']) recorders.push(get(pool, p));
    expect(pool.connections).toBe(1);
    await Promise.all(recorders.map((r) => r.done));
    recorders.forEach((r, i) => expectSuccess(r, 200, `answer /${i + 1}`));
    expect(server.requests.map(pathOf)).toEqual(['/1', '/2', '/3']); // in dispatch order
    expect(completedWhenSeen).toEqual([0, 1, 2]); // each request sent only after the previous answer
    expect(server.connections).toBe(1);
  });
});

// ---- timeouts and failures ----

describe('timeouts and failures', () => {
  test('no response head within responseTimeoutMs → H1_HEADERS_TIMEOUT, and the connection is closed', async () => {
    const server = await startRawServer(); // reads, never answers
    const clock = new ManualClock(10);
    const pool = newPool(server.port, { responseTimeoutMs: 150, clock });
    const r = get(pool, '/slow');
    await server.waitFor(() => server.requests.length === 1);
    crossDeadline(clock, 150, () => r.errors.length > 0);
    await r.done;
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toBeInstanceOf(H1Error);
    expect(codeOf(r.errors[0])).toBe('H1_HEADERS_TIMEOUT');
    expect(r.heads).toBe(0);
    expect(r.completions).toBe(0);
    expect(server.requests).toHaveLength(1);
    await server.closed[0];
  });

  test('an exchange waiting in the queue for longer than responseTimeoutMs fails with H1_HEADERS_TIMEOUT, never sent', async () => {
    // The first exchange holds the only connection: head sent, body still coming (no idle timeout soon).
    const server = await startRawServer((req) => req.socket.write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab'));
    const clock = new ManualClock(10);
    const pool = newPool(server.port, { connections: 1, responseTimeoutMs: 150, idleTimeoutMs: 5_000, clock });
    const first = get(pool, '/first');
    const queued = get(pool, '/queued');
    await until(() => first.heads === 1, 'the first response head');
    crossDeadline(clock, 150, () => queued.errors.length > 0);
    await queued.done;
    expect(codeOf(queued.errors[0])).toBe('H1_HEADERS_TIMEOUT');
    expect(queued.errors[0]!.message).toContain('no free connection');
    expect(first.errors).toEqual([]);
    expect(first.completions).toBe(0);
    server.sockets[0]!.write('cd');
    await first.done;
    expectSuccess(first, 200, 'abcd');
    expect(server.requests.map(pathOf)).toEqual(['/first']);
  });

  // Reads restart only the body deadline: a head that trickles in (1xx answers, a byte at a time)
  // is still cut at timeouts.response, which bounds "request sent → response head".
  test.each([
    ['1xx answers', 'HTTP/1.1 100 Continue\r\n\r\n', ''],
    ['its head a byte at a time', 'a', 'HTTP/1.1 200 OK\r\nX-Slow: '],
  ])('an upstream trickling %s is cut at responseTimeoutMs', async (_name, piece, start) => {
    const server = await startRawServer((req) => req.socket.write(start));
    const clock = new ManualClock(10);
    const pool = newPool(server.port, { responseTimeoutMs: 100, idleTimeoutMs: 5_000, clock });
    const r = get(pool, '/');
    await server.waitFor(() => server.requests.length === 1);
    const upstream = server.sockets[0]!;
    // A piece every tick, up to the limit and on the tick past it. Nothing observable marks a
    // piece as read, so each gets two turns of the event loop (a loopback write is readable on
    // the next poll): were reads to restart the deadline, it would then not fire on time. The
    // pool's verdict does not depend on those turns.
    let elapsed = 0;
    const step = async (): Promise<void> => {
      upstream.write(piece);
      for (let i = 0; i < 2; i++) await new Promise<void>((resolve) => setImmediate(resolve));
      clock.advance(clock.tick);
      elapsed += clock.tick;
    };
    while (elapsed < 100) await step();
    expect(r.errors).toEqual([]);
    await step();
    expect(r.errors.map(codeOf)).toEqual(['H1_HEADERS_TIMEOUT']);
    expect(r.heads).toBe(0);
  });

  test('no body data within idleTimeoutMs after the head → H1_BODY_TIMEOUT', async () => {
    const server = await startRawServer((req) => req.socket.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'));
    const clock = new ManualClock(10);
    const pool = newPool(server.port, { idleTimeoutMs: 150, responseTimeoutMs: 5_000, clock });
    const r = get(pool, '/');
    await until(() => r.received === 3, 'the first body bytes');
    crossDeadline(clock, 150, () => r.errors.length > 0);
    await r.done;
    expect(r.heads).toBe(1);
    expect(r.status).toBe(200);
    expect(r.body).toBe('abc');
    expect(r.completions).toBe(0);
    expect(r.errors).toHaveLength(1);
    expect(codeOf(r.errors[0])).toBe('H1_BODY_TIMEOUT');
    await server.closed[0];
  });

  test('a body that keeps trickling faster than idleTimeoutMs is not cut, however long it takes in all', async () => {
    const server = await startRawServer((req) => req.socket.write('HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n'));
    const clock = new ManualClock(10);
    const pool = newPool(server.port, { idleTimeoutMs: 150, responseTimeoutMs: 150, clock });
    const r = get(pool, '/');
    await until(() => r.heads === 1, 'the response head');
    // A byte, read, then 100 ms: 600 ms in all, four times either timeout.
    for (let sent = 0; sent < 6; sent++) {
      server.sockets[0]!.write(String(sent));
      await until(() => r.received === sent + 1, `body byte ${sent}`);
      clock.advance(100);
    }
    await r.done;
    expectSuccess(r, 200, '012345');
  });

  test('a refused connection → the socket error, code ECONNREFUSED', async () => {
    const port = await closedPort();
    const pool = newPool(port);
    const r = get(pool, '/');
    await r.done;
    expect(r.errors).toHaveLength(1);
    expect(codeOf(r.errors[0])).toBe('ECONNREFUSED');
    expect(r.heads).toBe(0);
    expect(pool.connections).toBe(0);
  });

  test('the upstream closing before answering → H1_SOCKET_CLOSED', async () => {
    const server = await startRawServer((req) => req.socket.end());
    const pool = newPool(server.port);
    const r = get(pool, '/');
    await r.done;
    expect(codeOf(r.errors[0])).toBe('H1_SOCKET_CLOSED');
    expect(r.heads).toBe(0);
  });

  test('the upstream closing in the middle of a Content-Length body → H1_SOCKET_CLOSED after the head', async () => {
    const server = await startRawServer((req) => req.socket.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabcde'));
    const pool = newPool(server.port);
    const r = get(pool, '/');
    await r.done;
    expect(r.heads).toBe(1);
    expect(r.body).toBe('abcde');
    expect(r.completions).toBe(0);
    expect(r.errors).toHaveLength(1);
    expect(codeOf(r.errors[0])).toBe('H1_SOCKET_CLOSED');
  });

  test('a malformed response → GatewayError UPSTREAM_BAD_RESPONSE, and the connection is closed', async () => {
    const server = await startRawServer((req) => req.socket.write('HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\nContent-Length: 0\r\n\r\n'));
    const pool = newPool(server.port);
    const r = get(pool, '/');
    await r.done;
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toBeInstanceOf(GatewayError);
    expect(codeOf(r.errors[0])).toBe('UPSTREAM_BAD_RESPONSE');
    expect(r.heads).toBe(0);
    await server.closed[0];
    expect(pool.connections).toBe(0);
  });
});

// ---- what goes on the wire ----

describe('the request written to the upstream', () => {
  test('carries the given headers in order, spelled as given, plus a host header when none was given', async () => {
    const server = await startRawServer((req) => req.socket.write(okResponse('ok')));
    const pool = newPool(server.port);
    await get(pool, '/p?q=1', ['X-B', '2', 'x-a', '1', 'X-B', '3'], 'DELETE').done;
    expect(server.requests[0]!.lines).toEqual(['DELETE /p?q=1 HTTP/1.1', 'X-B: 2', 'x-a: 1', 'X-B: 3', `host: 127.0.0.1:${server.port}`]);
    expect(server.received[0]!.toString('latin1')).toBe(`DELETE /p?q=1 HTTP/1.1\r\nX-B: 2\r\nx-a: 1\r\nX-B: 3\r\nhost: 127.0.0.1:${server.port}\r\n\r\n`);
  });

  test('a host header given is the only one', async () => {
    const server = await startRawServer((req) => req.socket.write(okResponse('ok')));
    const pool = newPool(server.port);
    await get(pool, '/', ['X-A', '1', 'Host', 'example.test']).done;
    expect(server.requests[0]!.lines).toEqual(['GET / HTTP/1.1', 'X-A: 1', 'Host: example.test']);
  });
});

// ---- request bodies: a front node:http server hands its IncomingMessage to the pool, as the relay does ----

interface Front {
  url: string;
  recorders: Recorder[];
}

async function startFront(pool: H1Pool): Promise<Front> {
  const recorders: Recorder[] = [];
  const front = await startHttpUpstream((req: IncomingMessage, res: ServerResponse) => {
    const r = new Recorder();
    recorders.push(r);
    const headers: string[] = [];
    const length = req.headers['content-length'];
    if (length !== undefined) headers.push('content-length', length);
    pool.dispatch({ path: req.url ?? '/', method: req.method ?? 'GET', headers, body: req }, r);
    void r.done.then(() => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ status: r.status, body: r.body, error: codeOf(r.errors[0]) ?? null }));
    });
  });
  return { url: front.url, recorders };
}

describe('request bodies', () => {
  test('a body with Content-Length is streamed: the upstream gets its first bytes before the rest exists, then exactly the bytes sent', async () => {
    const server = await startRawServer((req) => req.socket.write(okResponse(`got ${req.body.length}`)));
    const pool = newPool(server.port);
    const front = await startFront(pool);
    const client = request(`${front.url}/upload`, { method: 'POST', agent: false, headers: { 'content-length': '10' } });
    const response = once(client, 'response') as Promise<[IncomingMessage]>;
    client.write('hello');
    await server.waitFor(() => (server.received[0]?.toString('latin1') ?? '').endsWith('\r\n\r\nhello'));
    expect(server.requests).toHaveLength(0); // the request is not complete yet: the body streams
    client.end('world');
    const [res] = await response;
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    expect(JSON.parse(Buffer.concat(chunks).toString())).toEqual({ status: 200, body: 'got 10', error: null });
    const seen = server.requests[0]!;
    expect(seen.lines[0]).toBe('POST /upload HTTP/1.1');
    expect(headerOf(seen.lines, 'content-length')).toBe('10');
    expect(headerOf(seen.lines, 'transfer-encoding')).toBeUndefined();
    expect(seen.wire.toString('latin1')).toBe('helloworld');
    expect(server.received[0]!.subarray(server.received[0]!.indexOf('\r\n\r\n') + 4).toString('latin1')).toBe('helloworld'); // nothing more
  });

  test('a body without Content-Length goes out chunked: valid framing on the wire, the exact bytes once decoded', async () => {
    const server = await startRawServer((req) => req.socket.write(okResponse(`got ${req.body.length}`)));
    const pool = newPool(server.port);
    const front = await startFront(pool);
    const client = request(`${front.url}/upload`, { method: 'POST', agent: false, headers: { 'transfer-encoding': 'chunked' } });
    const response = once(client, 'response') as Promise<[IncomingMessage]>;
    const first = randomBytes(3000);
    const second = randomBytes(70_000);
    client.write(first);
    await server.waitFor(() => (server.received[0]?.length ?? 0) > 3000);
    client.end(second);
    const [res] = await response;
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    expect(JSON.parse(Buffer.concat(chunks).toString())).toEqual({ status: 200, body: `got ${3000 + 70_000}`, error: null });
    const seen = server.requests[0]!;
    expect(headerOf(seen.lines, 'transfer-encoding')).toBe('chunked');
    expect(headerOf(seen.lines, 'content-length')).toBeUndefined();
    expect(seen.body.equals(Buffer.concat([first, second]))).toBe(true);
    expect(seen.wire.subarray(-5).toString('latin1')).toBe('0\r\n\r\n');
    expect(seen.wire.subarray(0, 5).toString('latin1')).toMatch(/^[0-9a-f]+\r\n/);
  });

  test('through the gateway: a chunked request body reaches a node:http upstream decoded', async () => {
    const up = await startEchoUpstream();
    const gw = await startGateway(proxyConfig(up.url));
    const client = request(gw.url('/chunked'), { method: 'POST', agent: false, headers: { 'transfer-encoding': 'chunked', 'content-type': 'text/plain' } });
    const response = once(client, 'response') as Promise<[IncomingMessage]>;
    client.write('first part, ');
    client.write('second part, ');
    client.end('last part');
    const [res] = await response;
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    expect(res.statusCode).toBe(200);
    const seen = JSON.parse(Buffer.concat(chunks).toString()) as Seen;
    expect(seen.body).toBe('first part, second part, last part');
    expect(seen.headers['transfer-encoding']).toBe('chunked');
    expect(seen.headers['content-length']).toBeUndefined();
  });
});

// ---- flow control and shutdown ----

describe('flow control', () => {
  test('abort() in the middle of a response closes the connection, and onError is called once', async () => {
    const server = await startRawServer((req) => req.socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n' + 'x'.repeat(100)));
    const pool = newPool(server.port);
    const reason = new Error('client went away');
    const r = new Recorder((rec) => {
      rec.control!.abort(reason);
      return false;
    });
    get(pool, '/', [], 'GET', r);
    await r.done;
    expect(r.errors).toEqual([reason]);
    expect(r.heads).toBe(1);
    expect(pool.connections).toBe(0);
    await server.closed[0]; // the upstream sees the connection go
    await quietFor(() => `${r.errors.length} ${r.completions}`);
    expect(r.errors).toHaveLength(1);
    expect(r.completions).toBe(0);
    r.control!.abort(new Error('again')); // a second abort is a no-op
    expect(r.errors).toHaveLength(1);
  });

  test('abort() before the response: the exchange fails once and the upstream connection closes', async () => {
    const server = await startRawServer();
    const pool = newPool(server.port);
    const r = get(pool, '/');
    await server.waitFor(() => server.requests.length === 1);
    const reason = new Error('stop');
    r.control!.abort(reason);
    await r.done;
    expect(r.errors).toEqual([reason]);
    await server.closed[0];
    await quietFor(() => String(r.errors.length));
    expect(r.errors).toHaveLength(1);
  });

  test('onData returning false stops reading the upstream until control.resume()', async () => {
    const TOTAL = 32 * MB;
    const CHUNK = randomBytes(64 * 1024);
    const sentHash = createHash('sha256');
    let written = 0;
    let blocked = false;
    const server = await startRawServer((req) => {
      const socket = req.socket;
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${TOTAL}\r\n\r\n`);
      void (async () => {
        while (written < TOTAL && !socket.destroyed) {
          sentHash.update(CHUNK);
          written += CHUNK.length;
          if (!socket.write(CHUNK)) {
            blocked = true;
            await once(socket, 'drain');
            blocked = false;
          }
        }
      })().catch(() => undefined);
    });
    const pool = newPool(server.port);
    const r = new Recorder((rec) => rec.dataCalls > 1); // false on the first chunk only
    get(pool, '/big', [], 'GET', r);
    // The upstream fills every buffer on the way and waits for 'drain', while the client sits on one chunk.
    await until(() => blocked && r.dataCalls === 1, 'the upstream to block');
    await quietFor(() => `${written} ${r.dataCalls} ${blocked}`);
    expect(blocked).toBe(true);
    expect(r.dataCalls).toBe(1);
    expect(r.received).toBeLessThan(TOTAL);
    expect(written).toBeLessThan(TOTAL);
    r.control!.resume();
    await r.done;
    expect(r.errors).toEqual([]);
    expect(r.received).toBe(TOTAL);
    expect(r.dataCalls).toBeGreaterThan(1);
    expect(createHash('sha256').update(Buffer.concat(r.chunks)).digest('hex')).toBe(sentHash.digest('hex'));
  });

  // The body deadline waits while the handler has paused reading for a slow client (as undici).
  test('a body paused by the handler for longer than idleTimeoutMs is not timed out', async () => {
    const TOTAL = 16 * MB;
    const CHUNK = randomBytes(64 * 1024);
    let written = 0;
    let blocked = false;
    const server = await startRawServer((req) => {
      const socket = req.socket;
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${TOTAL}\r\n\r\n`);
      void (async () => {
        while (written < TOTAL && !socket.destroyed) {
          written += CHUNK.length;
          if (!socket.write(CHUNK)) {
            blocked = true;
            await once(socket, 'drain');
            blocked = false;
          }
        }
      })().catch(() => undefined);
    });
    const clock = new ManualClock(10);
    const pool = newPool(server.port, { idleTimeoutMs: 150, clock });
    const r = new Recorder((rec) => rec.dataCalls > 1);
    get(pool, '/big', [], 'GET', r);
    await until(() => (blocked && r.dataCalls === 1) || r.errors.length > 0, 'the upstream to block');
    // The client is slow for three idle timeouts.
    clock.advance(450);
    expect(r.errors).toEqual([]);
    r.control!.resume();
    await r.done;
    expect(r.errors.map(codeOf)).toEqual([]);
    expect(r.received).toBe(TOTAL);
  });
});

describe('shutting the pool', () => {
  test('destroy() fails the exchanges in flight and in the queue with H1_POOL_CLOSED, and later dispatches at once', async () => {
    const server = await startRawServer(); // never answers
    const pool = newPool(server.port, { connections: 1 });
    const inFlight = get(pool, '/in-flight');
    const queued = get(pool, '/queued');
    await server.waitFor(() => server.requests.length === 1);
    await pool.destroy();
    await Promise.all([inFlight.done, queued.done]);
    for (const r of [inFlight, queued]) {
      expect(r.errors).toHaveLength(1);
      expect(r.errors[0]).toBeInstanceOf(H1Error);
      expect(codeOf(r.errors[0])).toBe('H1_POOL_CLOSED');
    }
    await server.closed[0];
    expect(pool.connections).toBe(0);
    const late = get(pool, '/late');
    expect(codeOf(late.errors[0])).toBe('H1_POOL_CLOSED');
    expect(server.requests.map(pathOf)).toEqual(['/in-flight']);
    await quietFor(() => `${inFlight.errors.length} ${queued.errors.length}`);
    expect(inFlight.errors).toHaveLength(1); // the socket's own 'close' does not fail it again
  });

  test('close() lets the exchange in flight complete, then closes the connection and resolves', async () => {
    const server = await startRawServer();
    const pool = newPool(server.port);
    const order: string[] = [];
    const r = new Recorder();
    get(pool, '/slow', [], 'GET', r);
    void r.done.then(() => order.push('exchange done'));
    await server.waitFor(() => server.requests.length === 1);
    const closed = pool.close().then(() => order.push('pool closed'));
    await quietFor(() => order.join());
    expect(order).toEqual([]); // still waiting for the answer
    expect(codeOf(get(pool, '/refused').errors[0])).toBe('H1_POOL_CLOSED'); // no new work meanwhile
    server.sockets[0]!.write(okResponse('finally'));
    await closed;
    expect(order).toEqual(['exchange done', 'pool closed']);
    expectSuccess(r, 200, 'finally');
    await server.closed[0]; // the kept-alive connection is closed, not pooled
    expect(pool.connections).toBe(0);
  });

  test('close() called twice while an exchange is in flight: both promises resolve when it completes', async () => {
    const server = await startRawServer();
    const pool = newPool(server.port);
    const r = new Recorder();
    get(pool, '/slow', [], 'GET', r);
    await server.waitFor(() => server.requests.length === 1);
    const first = pool.close();
    const second = pool.close();
    server.sockets[0]!.write(okResponse('done'));
    await Promise.all([first, second]);
    expectSuccess(r, 200, 'done');
    expect(pool.connections).toBe(0);
  });

  test('close() with only idle connections closes them and resolves', async () => {
    const server = await startRawServer((req) => req.socket.write(okResponse('ok')));
    const pool = newPool(server.port);
    await Promise.all([get(pool, '/a').done, get(pool, '/b').done]);
    expect(pool.connections).toBe(2);
    await pool.close();
    expect(pool.connections).toBe(0);
    await Promise.all(server.closed);
  });
});

// ---- through the gateway ----

describe('through the gateway', () => {
  test('an upstream answering with an obs-fold header → 502 UPSTREAM_BAD_RESPONSE', async () => {
    const server = await startRawServer((req) => req.socket.write('HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\nContent-Length: 2\r\n\r\nok'));
    const gw = await startGateway(proxyConfig(`http://127.0.0.1:${server.port}`));
    const res = await send(gw.url('/x'));
    expect(res.status).toBe(502);
    expect(errorCodeOf(res)).toBe('UPSTREAM_BAD_RESPONSE');
    expect(res.body.toString()).not.toContain('ok"');
  });

  test('an upstream that never answers, with a short response timeout → 504 UPSTREAM_TIMEOUT', async () => {
    const server = await startRawServer(); // reads, never answers
    const clock = new ManualClock();
    const gw = await startGateway(
      {
        upstreams: { mute: { targets: [{ url: `http://127.0.0.1:${server.port}` }], timeouts: { response: '150ms' } } },
        routes: [{ name: 'mute', match: { path: '/*' }, upstream: 'mute' }],
      },
      undefined,
      { clock }, // the gateway's clock drives its upstream pools' deadlines too
    );
    const answer = send(gw.url('/x'));
    await until(() => server.requests.length === 1, 'the request to reach the upstream');
    clock.advance(150 + 2 * clock.tick); // the pool checks once a tick and allows a tick of slack
    const res = await answer;
    expect(res.status).toBe(504);
    const body = jsonOf(res) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('UPSTREAM_TIMEOUT');
    expect(body.error.message).toContain('150ms');
    expect(server.requests).toHaveLength(1); // not retried
  });

  test('an upstream answering 100 Continue, then 200 → the client gets the 200 and its body', async () => {
    const server = await startRawServer((req) => {
      req.socket.write('HTTP/1.1 100 Continue\r\n\r\n');
      req.socket.write(okResponse('after continue', 'Content-Type: text/plain\r\n'));
    });
    const gw = await startGateway(proxyConfig(`http://127.0.0.1:${server.port}`));
    const res = await send(gw.url('/x'), { method: 'POST', body: 'payload' });
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('after continue');
    expect(res.headers['content-type']).toBe('text/plain');
    expect(server.requests[0]!.body.toString()).toBe('payload');
  });

  test('sequential requests through the gateway reuse one upstream connection', async () => {
    const server = await startRawServer((req) => req.socket.write(okResponse(`seen ${pathOf(req)}`)));
    const gw = await startGateway(proxyConfig(`http://127.0.0.1:${server.port}`));
    for (const p of ['/a', '/b', '/c']) {
      const res = await send(gw.url(p));
      expect(res.status).toBe(200);
      expect(res.body.toString()).toBe(`seen ${p}`);
    }
    expect(server.connections).toBe(1);
  });
});
