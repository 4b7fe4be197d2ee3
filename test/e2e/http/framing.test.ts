import { test, expect } from 'vitest';
import { connect } from 'node:net';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { startGateway, proxyConfig, type TestGateway } from '../../helpers/gateway.js';
import { startHttpUpstream, type Upstream } from '../../helpers/servers.js';
import { rawHttp } from '../../helpers/clients.js';
import { jsonOf } from '../../helpers/http.js';

// An upstream that counts the requests it gets and the ones whose body arrived complete.
interface CountingUpstream extends Upstream {
  completed: IncomingMessage[];
  bodies: string[];
}

async function startCountingUpstream(): Promise<CountingUpstream> {
  const completed: IncomingMessage[] = [];
  const bodies: string[] = [];
  const up = await startHttpUpstream((req, res) => {
    let body = '';
    req.setEncoding('latin1');
    req.on('data', (c: string) => (body += c));
    req.on('error', () => undefined);
    req.on('end', () => {
      completed.push(req);
      bodies.push(body);
      res.end(`${req.method} ${req.url} ${body}`);
    });
  });
  return { ...up, completed, bodies };
}

async function setup(): Promise<{ up: CountingUpstream; gw: TestGateway }> {
  const up = await startCountingUpstream();
  const gw = await startGateway(proxyConfig(up.url));
  return { up, gw };
}

const HEAD = 'POST /p HTTP/1.1\r\nHost: x\r\n';

test.each([
  ['Content-Length and Transfer-Encoding together', HEAD + 'Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['Transfer-Encoding before Content-Length', HEAD + 'Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n'],
  ['two differing Content-Length headers', HEAD + 'Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!'],
  ['two equal Content-Length headers', HEAD + 'Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello'],
  ['a Content-Length list', HEAD + 'Content-Length: 5, 6\r\n\r\nhello!'],
  ['a signed Content-Length', HEAD + 'Content-Length: +5\r\n\r\nhello'],
  ['Transfer-Encoding: chunked, identity', HEAD + 'Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n'],
  ['Transfer-Encoding: identity', HEAD + 'Transfer-Encoding: identity\r\n\r\nhello'],
  ['Transfer-Encoding: xchunked', HEAD + 'Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n'],
  ['Transfer-Encoding sent twice', HEAD + 'Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
  ['a malformed chunk size', HEAD + 'Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n'],
  ['a negative chunk size', HEAD + 'Transfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n'],
  ['a chunk size that overflows', HEAD + 'Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nhello\r\n0\r\n\r\n'],
  ['chunks delimited by bare LF', HEAD + 'Transfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n'],
  ['Transfer-Encoding: gzip, chunked (a coding the gateway would drop)', HEAD + 'Transfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'],
  ['Transfer-Encoding on HTTP/1.0', 'POST /p HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'],
])('answers 400 AMBIGUOUS_FRAMING to %s, and no upstream gets a complete request', async (_name, bytes) => {
  const { up, gw } = await setup();
  const answer = await rawHttp(gw.port, bytes, { untilClose: true });
  expect(answer.status).toBe(400);
  expect(answer.raw.toLowerCase()).toContain('connection: close');
  expect(jsonOf(answer)).toMatchObject({ error: { code: 'AMBIGUOUS_FRAMING' } });
  expect(up.completed).toHaveLength(0);
  expect(up.requests).toHaveLength(0);
});

test('refuses a Transfer-Encoding other than chunked before routing, even with a pooled upstream connection ready', async () => {
  const { up, gw } = await setup();
  const warm = await rawHttp(gw.port, 'GET /warm HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', { untilClose: true });
  expect(warm.status).toBe(200);
  // llhttp itself refuses this one only after the head: by then a request could already be on its way.
  const answer = await rawHttp(gw.port, HEAD + 'Transfer-Encoding: xchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n', { untilClose: true });
  expect(answer.status).toBe(400);
  expect(answer.raw.match(/HTTP\/1\.1 /g)).toHaveLength(1); // one answer, not ours and then llhttp's
  expect(up.requests.map((r) => r.url)).toEqual(['/warm']);
});

test.each([
  ['a space before the colon (Transfer-Encoding : chunked)', HEAD + 'Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n'],
  ['an obs-fold continuation line', HEAD + 'Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n'],
  ['a vertical tab in Transfer-Encoding', HEAD + 'Transfer-Encoding: \x0bchunked\r\n\r\n0\r\n\r\n'],
  ['header lines ended by bare LF', 'POST /p HTTP/1.1\nHost: x\nContent-Length: 5\n\nhello'],
  ['a NUL in a header value', HEAD + 'X-A: a\x00b\r\nContent-Length: 0\r\n\r\n'],
])('answers 400 BAD_REQUEST to %s before any upstream sees it', async (_name, bytes) => {
  const { up, gw } = await setup();
  const answer = await rawHttp(gw.port, bytes, { untilClose: true });
  expect(answer.status).toBe(400);
  expect(jsonOf(answer)).toMatchObject({ error: { code: 'BAD_REQUEST' } });
  expect(up.requests).toHaveLength(0);
});

test('cuts the upstream off mid-body when a later chunk turns out malformed', async () => {
  let sawFirstChunk!: () => void;
  const firstChunk = new Promise<void>((resolve) => (sawFirstChunk = resolve));
  let upstreamClosed!: () => void;
  const closed = new Promise<void>((resolve) => (upstreamClosed = resolve));
  let complete = false;
  let received = '';
  const up = await startHttpUpstream((req, res) => {
    req.setEncoding('latin1');
    req.on('data', (c: string) => {
      received += c;
      sawFirstChunk();
    });
    req.on('end', () => {
      complete = true;
      res.end();
    });
    req.on('error', () => undefined).on('close', () => upstreamClosed());
  });
  const gw = await startGateway(proxyConfig(up.url));
  const socket = connect(gw.port, '127.0.0.1');
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  let answer = '';
  socket.on('data', (c: Buffer) => (answer += c.toString('latin1')));
  socket.write(HEAD + 'Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n');
  await firstChunk; // the head and the first chunk are already upstream: the body streams
  socket.write('zz\r\nworld\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n');
  await once(socket, 'close');
  await closed;
  expect(answer).toMatch(/^HTTP\/1\.1 400 /);
  expect(complete).toBe(false);
  expect(received).toBe('hello');
  expect(up.requests.map((r) => r.url)).toEqual(['/p']);
});

test('re-frames a chunked body for the upstream: it gets the decoded bytes, never the chunk syntax', async () => {
  const { up, gw } = await setup();
  const answer = await rawHttp(gw.port, HEAD + 'Transfer-Encoding: CHUNKED\r\nConnection: close\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n', { untilClose: true });
  expect(answer.status).toBe(200);
  expect(up.bodies).toEqual(['hello world']);
  expect(answer.raw).toContain('POST /p hello world');
});

test('treats the bytes after a Content-Length body as the next request, relayed on its own', async () => {
  const { up, gw } = await setup();
  const answer = await rawHttp(
    gw.port,
    HEAD + 'Content-Length: 5\r\n\r\nhelloGET /second HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    { untilClose: true },
  );
  expect(answer.raw.match(/HTTP\/1\.1 200/g)).toHaveLength(2);
  expect(up.requests.map((r) => `${r.method} ${r.url}`)).toEqual(['POST /p', 'GET /second']);
  expect(up.bodies).toEqual(['hello', '']);
});
