import { test, expect } from 'vitest';
import { request, type IncomingMessage } from 'node:http';
import { once } from 'node:events';
import type { GatewayConfig } from '../../../src/index.js';
import { startGateway, proxyConfig } from '../../helpers/gateway.js';
import { startHttpUpstream, startRawUpstream } from '../../helpers/servers.js';
import { rawHttp } from '../../helpers/clients.js';
import { send, jsonOf, errorCodeOf, closedPort, startEchoUpstream } from '../../helpers/http.js';

interface ErrorBody {
  error: { code: string; message: string; requestId: string };
}

function twoTargets(first: string, second: string, retries?: number): GatewayConfig {
  return {
    upstreams: { app: { targets: [{ url: first }, { url: second }], ...(retries === undefined ? {} : { retries }) } },
    routes: [{ name: 'app', match: { path: '/*' }, upstream: 'app' }],
  };
}

test('answers 502 UPSTREAM_UNAVAILABLE when the only target refuses the connection', async () => {
  const port = await closedPort();
  const gw = await startGateway(proxyConfig(`http://127.0.0.1:${port}`));
  const res = await send(gw.url('/x'));
  expect(res.status).toBe(502);
  const body = jsonOf(res) as ErrorBody;
  expect(body.error.code).toBe('UPSTREAM_UNAVAILABLE');
  expect(body.error.requestId).toBe(res.headers['x-request-id']);
  const log = await gw.waitForLog((l) => l.event === 'http_request');
  expect(log).toMatchObject({ status: 502, code: 'UPSTREAM_UNAVAILABLE', route: 'app' });
});

test('answers 502 when the upstream resets the connection in the middle of its response head', async () => {
  let connections = 0;
  const up = await startRawUpstream((socket) => {
    connections++;
    socket.once('data', () => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/pl');
      socket.resetAndDestroy();
    });
  });
  const gw = await startGateway(proxyConfig(up.url));
  const res = await send(gw.url('/x'));
  expect(res.status).toBe(502);
  expect(errorCodeOf(res)).toBe('UPSTREAM_UNAVAILABLE');
  expect(connections).toBeGreaterThanOrEqual(1);
});

test('answers 502 UPSTREAM_BAD_RESPONSE when the upstream does not speak HTTP', async () => {
  const up = await startRawUpstream((socket) => {
    socket.once('data', () => socket.end('HELLO\r\n\r\n'));
  });
  const gw = await startGateway(proxyConfig(up.url));
  const res = await send(gw.url('/x'));
  expect(res.status).toBe(502);
  expect(errorCodeOf(res)).toBe('UPSTREAM_BAD_RESPONSE');
});

test('answers 504 UPSTREAM_TIMEOUT naming the upstream and the limit when it does not answer in time', async () => {
  const up = await startHttpUpstream(() => undefined); // reads the request, never answers
  const gw = await startGateway({
    upstreams: { slowpoke: { targets: [{ url: up.url }], timeouts: { response: '200ms' } } },
    routes: [{ name: 'slow', match: { path: '/*' }, upstream: 'slowpoke' }],
  });
  const res = await send(gw.url('/x'));
  expect(res.status).toBe(504);
  const body = jsonOf(res) as ErrorBody;
  expect(body.error.code).toBe('UPSTREAM_TIMEOUT');
  expect(body.error.message).toContain('slowpoke');
  expect(body.error.message).toContain('200ms');
  expect(up.requests).toHaveLength(1); // a timeout is not retried: the upstream may be working on it
});

test('answers 413 BODY_TOO_LARGE for a Content-Length over limits.maxBodyBytes without contacting the upstream', async () => {
  const up = await startEchoUpstream();
  const gw = await startGateway(proxyConfig(up.url, {}, { limits: { maxBodyBytes: '1kb' } }));
  const res = await send(gw.url('/upload'), { method: 'POST', body: Buffer.alloc(1025, 0x61) });
  expect(res.status).toBe(413);
  expect(errorCodeOf(res)).toBe('BODY_TOO_LARGE');
  expect(res.headers.connection).toBe('close');
  expect(up.requests).toHaveLength(0);
  const ok = await send(gw.url('/upload'), { method: 'POST', body: Buffer.alloc(1024, 0x61) });
  expect(ok.status).toBe(200);
});

test('answers 413 when a chunked body grows over limits.maxBodyBytes, and the upstream never gets all of it', async () => {
  let arrived!: () => void;
  const upstreamGotData = new Promise<void>((resolve) => (arrived = resolve));
  let upstreamClosed!: () => void;
  const upstreamDone = new Promise<void>((resolve) => (upstreamClosed = resolve));
  let complete = false;
  let received = 0;
  const up = await startHttpUpstream((req, res) => {
    req.on('data', (c: Buffer) => {
      received += c.length;
      arrived();
    });
    req.on('end', () => {
      complete = true;
      res.end('got it all');
    });
    // 'close' comes with or without an 'aborted' error; events.once would reject on the error.
    req.on('error', () => undefined).on('close', () => upstreamClosed());
  });
  const gw = await startGateway(proxyConfig(up.url, {}, { limits: { maxBodyBytes: '4kb' } }));
  const req = request(gw.url('/upload'), { method: 'POST', agent: false, headers: { 'transfer-encoding': 'chunked' } });
  req.on('error', () => undefined); // the gateway may close before the last chunk is written
  const response = once(req, 'response') as Promise<[IncomingMessage]>;
  req.write(Buffer.alloc(3000, 0x62));
  await upstreamGotData; // streaming has begun: the upstream is reading the body as it comes
  for (let i = 0; i < 4; i++) req.write(Buffer.alloc(1024, 0x62));
  req.end();
  const [res] = await response;
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  expect(res.statusCode).toBe(413);
  expect((JSON.parse(Buffer.concat(chunks).toString()) as ErrorBody).error.code).toBe('BODY_TOO_LARGE');
  await upstreamDone;
  expect(complete).toBe(false);
  expect(received).toBeLessThan(3000 + 4 * 1024);
  expect(up.requests).toHaveLength(1);
});

test('answers 431 HEADERS_TOO_LARGE for a request head over limits.maxHeaderBytes', async () => {
  const up = await startEchoUpstream();
  const gw = await startGateway(proxyConfig(up.url, {}, { limits: { maxHeaderBytes: '2kb' } }));
  const answer = await rawHttp(gw.port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(4096)}\r\n\r\n`, { untilClose: true });
  expect(answer.status).toBe(431);
  expect(jsonOf(answer)).toMatchObject({ error: { code: 'HEADERS_TOO_LARGE' } });
  expect(up.requests).toHaveLength(0);
  const log = await gw.waitForLog((l) => l.event === 'http_request');
  expect(log).toMatchObject({ status: 431, code: 'HEADERS_TOO_LARGE' });
});

test('retries a GET on the next target when the first refuses the connection', async () => {
  const refused = await closedPort();
  const good = await startEchoUpstream();
  const gw = await startGateway(twoTargets(`http://127.0.0.1:${refused}`, good.url));
  // Round robin starts with the first target, so the first GET meets the refusal.
  for (let i = 0; i < 4; i++) expect((await send(gw.url(`/r${i}`))).status).toBe(200);
  expect(good.requests).toHaveLength(4);
});

test('does not retry when retries is 0', async () => {
  const refused = await closedPort();
  const good = await startEchoUpstream();
  const gw = await startGateway(twoTargets(`http://127.0.0.1:${refused}`, good.url, 0));
  const statuses = [(await send(gw.url('/a'))).status, (await send(gw.url('/b'))).status];
  expect(statuses).toEqual([502, 200]);
});

test.each([
  ['POST', 'form=1'],
  ['PUT', 'replacement'],
])('does not retry a %s with a body: it gets 502 when its target refuses', async (method, body) => {
  const refused = await closedPort();
  const good = await startEchoUpstream();
  const gw = await startGateway(twoTargets(`http://127.0.0.1:${refused}`, good.url));
  const first = await send(gw.url('/w'), { method, body });
  expect(first.status).toBe(502);
  expect(errorCodeOf(first)).toBe('UPSTREAM_UNAVAILABLE');
  expect(good.requests).toHaveLength(0);
  expect((await send(gw.url('/w'), { method, body })).status).toBe(200);
});
