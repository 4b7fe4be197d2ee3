// upstream/h1/client: the pool: its queue of exchanges waiting for a connection, shutting it, and
// the client behind the gateway. One connection's behaviour is connection.test.ts, one exchange's exchange.test.ts.
import { describe, test, expect } from 'vitest';
import { ManualClock } from '../../../../src/core/clock.js';
import { H1Error } from '../../../../src/upstream/h1/exchange.js';
import { startGateway, proxyConfig } from '../../../helpers/gateway.js';
import { send, jsonOf, errorCodeOf } from '../../../helpers/http.js';
import { Recorder, codeOf, crossDeadline, expectSuccess, get, newPool, okResponse, pathOf, quietFor, startRawServer, until } from './h1-harness.js';

describe('the queue', () => {
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
