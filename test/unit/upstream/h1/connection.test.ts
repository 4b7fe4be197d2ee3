// upstream/h1/connection: reuse of a keep-alive connection, its deadlines, the failures it reports,
// and reading paused for a slow handler. Driven through H1Pool.dispatch against a raw upstream.
import { describe, test, expect } from 'vitest';
import { once } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import { ManualClock } from '../../../../src/core/clock.js';
import { H1Error } from '../../../../src/upstream/h1/exchange.js';
import { GatewayError } from '../../../../src/core/errors.js';
import { closedPort } from '../../../helpers/http.js';
import { MB, Recorder, codeOf, crossDeadline, expectSuccess, get, newPool, okResponse, pathOf, quietFor, startRawServer, until } from './h1-harness.js';

// After the first connection went away: the next request is answered with `body` on a second one.
async function nextOnFreshConnection(pool: ReturnType<typeof newPool>, server: { connections: number }, body: string): Promise<void> {
  const b = get(pool, '/b');
  await b.done;
  expectSuccess(b, 200, body);
  expect(server.connections).toBe(2);
}

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
    await nextOnFreshConnection(pool, server, 'bye');
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
    await nextOnFreshConnection(pool, server, 'ok');
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
    await nextOnFreshConnection(pool, server, 'fresh'); // not the stray "extra" answer
  });

  test('an idle connection that receives unsolicited bytes is closed', async () => {
    const server = await startRawServer((req) => req.socket.write(okResponse('ok')));
    const pool = newPool(server.port);
    await get(pool, '/a').done;
    expect(pool.connections).toBe(1);
    server.sockets[0]!.write('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nbad');
    await server.closed[0];
    await until(() => pool.connections === 0, 'the pool to drop the connection');
    await nextOnFreshConnection(pool, server, 'ok');
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
    await nextOnFreshConnection(pool, server, 'n2');
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

});

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

describe('flow control', () => {
  // An upstream answering with `total` bytes (one random 64 KiB chunk, repeated) as fast as its socket
  // takes them, waiting for 'drain' when it refuses more: `flood` says how far it got, whether it is
  // waiting, and the hash of what it sent.
  async function startFlood(total: number) {
    const chunk = randomBytes(64 * 1024);
    const flood = { written: 0, blocked: false, hash: createHash('sha256') };
    const server = await startRawServer((req) => {
      const socket = req.socket;
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${total}\r\n\r\n`);
      void (async () => {
        while (flood.written < total && !socket.destroyed) {
          flood.hash.update(chunk);
          flood.written += chunk.length;
          if (!socket.write(chunk)) {
            flood.blocked = true;
            await once(socket, 'drain');
            flood.blocked = false;
          }
        }
      })().catch(() => undefined);
    });
    return { server, flood };
  }

  test('onData returning false stops reading the upstream until control.resume()', async () => {
    const TOTAL = 32 * MB;
    const { server, flood } = await startFlood(TOTAL);
    const pool = newPool(server.port);
    const r = new Recorder((rec) => rec.dataCalls > 1); // false on the first chunk only
    get(pool, '/big', [], 'GET', r);
    // The upstream fills every buffer on the way and waits for 'drain', while the client sits on one chunk.
    await until(() => flood.blocked && r.dataCalls === 1, 'the upstream to block');
    await quietFor(() => `${flood.written} ${r.dataCalls} ${flood.blocked}`);
    expect(flood.blocked).toBe(true);
    expect(r.dataCalls).toBe(1);
    expect(r.received).toBeLessThan(TOTAL);
    expect(flood.written).toBeLessThan(TOTAL);
    r.control!.resume();
    await r.done;
    expect(r.errors).toEqual([]);
    expect(r.received).toBe(TOTAL);
    expect(r.dataCalls).toBeGreaterThan(1);
    expect(createHash('sha256').update(Buffer.concat(r.chunks)).digest('hex')).toBe(flood.hash.digest('hex'));
  });

  // The body deadline waits while the handler has paused reading for a slow client (as undici).
  test('a body paused by the handler for longer than idleTimeoutMs is not timed out', async () => {
    const TOTAL = 16 * MB;
    const { server, flood } = await startFlood(TOTAL);
    const clock = new ManualClock(10);
    const pool = newPool(server.port, { idleTimeoutMs: 150, clock });
    const r = new Recorder((rec) => rec.dataCalls > 1);
    get(pool, '/big', [], 'GET', r);
    await until(() => (flood.blocked && r.dataCalls === 1) || r.errors.length > 0, 'the upstream to block');
    // The client is slow for three idle timeouts.
    clock.advance(450);
    expect(r.errors).toEqual([]);
    r.control!.resume();
    await r.done;
    expect(r.errors.map(codeOf)).toEqual([]);
    expect(r.received).toBe(TOTAL);
  });
});
