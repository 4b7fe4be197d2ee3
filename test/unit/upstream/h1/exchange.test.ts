// upstream/h1/exchange: the request one exchange writes (head, then its body as is or chunked) and
// how it ends when the relay gives up (abort). Driven through H1Pool.dispatch against a raw upstream.
import { describe, test, expect } from 'vitest';
import { request, type IncomingMessage, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { H1Pool } from '../../../../src/upstream/h1/client.js';
import { startGateway, proxyConfig } from '../../../helpers/gateway.js';
import { startHttpUpstream } from '../../../helpers/servers.js';
import { startEchoUpstream, type Seen } from '../../../helpers/http.js';
import { Recorder, codeOf, get, headerOf, newPool, okResponse, quietFor, startRawServer } from './h1-harness.js';

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

// The status and parsed JSON body of the answer to a request written by hand.
async function jsonAnswer(response: Promise<[IncomingMessage]>): Promise<{ status: number | undefined; json: unknown }> {
  const [res] = await response;
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return { status: res.statusCode, json: JSON.parse(Buffer.concat(chunks).toString()) };
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
    expect((await jsonAnswer(response)).json).toEqual({ status: 200, body: 'got 10', error: null });
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
    expect((await jsonAnswer(response)).json).toEqual({ status: 200, body: `got ${3000 + 70_000}`, error: null });
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
    const answer = await jsonAnswer(response);
    expect(answer.status).toBe(200);
    const seen = answer.json as Seen;
    expect(seen.body).toBe('first part, second part, last part');
    expect(seen.headers['transfer-encoding']).toBe('chunked');
    expect(seen.headers['content-length']).toBeUndefined();
  });
});

describe('abort', () => {
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
});
