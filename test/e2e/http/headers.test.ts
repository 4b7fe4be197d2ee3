import { test, expect } from 'vitest';
import type { Socket } from 'node:net';
import { startGateway, proxyConfig } from '../../helpers/gateway.js';
import { startRawUpstream } from '../../helpers/servers.js';
import { send, seenOf, headerNames, startEchoUpstream, REQUEST_ID, TRACEPARENT } from '../../helpers/http.js';

const TRUSTED = { trustedProxies: ['127.0.0.1/8'] };

// Reads one request head, then writes `response` and closes: an upstream whose bytes the test chooses.
function answerOnce(response: string): (socket: Socket) => void {
  return (socket) => {
    let head = '';
    socket.on('data', (chunk: Buffer) => {
      head += chunk.toString('latin1');
      if (head.includes('\r\n\r\n')) socket.end(response);
    });
  };
}

test('drops hop-by-hop request headers and every header Connection names before the upstream', async () => {
  const up = await startEchoUpstream();
  const gw = await startGateway(proxyConfig(up.url));
  // POST with a chunked body: Node's client refuses a Trailer header on any other framing.
  const res = await send(gw.url('/h'), {
    method: 'POST',
    body: 'payload',
    headers: [
      'Transfer-Encoding', 'chunked',
      'Connection', 'close, X-Secret-Hop',
      'X-Secret-Hop', 'do-not-forward',
      'Keep-Alive', 'timeout=5, max=1000',
      'Proxy-Connection', 'keep-alive',
      'TE', 'trailers',
      'Trailer', 'X-Checksum',
      'Upgrade', 'h2c',
      'Proxy-Authorization', 'Basic cHJveHk6c2VjcmV0',
      'X-Normal', 'kept',
    ],
  });
  expect(res.status).toBe(200);
  const seen = seenOf(res);
  const names = headerNames(seen.rawHeaders);
  for (const hop of ['x-secret-hop', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'proxy-authorization']) {
    expect(names, hop).not.toContain(hop);
  }
  // Whatever Connection the upstream sees is the gateway's own, about its pooled connection.
  expect([undefined, 'keep-alive', 'close']).toContain(seen.headers.connection);
  expect(JSON.stringify(seen)).not.toContain('do-not-forward');
  expect(seen.headers['x-normal']).toBe('kept');
  expect(seen.body).toBe('payload');
});

test('drops hop-by-hop response headers and those the upstream Connection names before the client', async () => {
  const up = await startRawUpstream(
    answerOnce(
      'HTTP/1.1 200 OK\r\n' +
        'Connection: X-Up-Hop, close\r\n' +
        'X-Up-Hop: 1\r\n' +
        'Keep-Alive: timeout=99, max=7\r\n' +
        'Proxy-Connection: keep-alive\r\n' +
        'Upgrade: h2c\r\n' +
        'Trailer: X-Checksum\r\n' +
        'X-Up-Normal: yes\r\n' +
        'Set-Cookie: a=1\r\n' +
        'Set-Cookie: b=2\r\n' +
        'Content-Length: 2\r\n\r\nok',
    ),
  );
  const gw = await startGateway(proxyConfig(up.url));
  const res = await send(gw.url('/'));
  expect(res.status).toBe(200);
  expect(res.body.toString()).toBe('ok');
  const names = headerNames(res.rawHeaders);
  for (const hop of ['x-up-hop', 'proxy-connection', 'upgrade', 'trailer']) expect(names, hop).not.toContain(hop);
  // The client's connection to the gateway has its own Connection/Keep-Alive, never the upstream's.
  expect(res.headers.connection ?? '').not.toMatch(/x-up-hop/i);
  expect(res.headers['keep-alive'] ?? '').not.toContain('timeout=99');
  expect(res.headers['x-up-normal']).toBe('yes');
  expect(res.headers['set-cookie']).toEqual(['a=1', 'b=2']);
});

test('replaces X-Forwarded-For from an untrusted peer with the peer address', async () => {
  const up = await startEchoUpstream();
  const gw = await startGateway(proxyConfig(up.url));
  const seen = seenOf(await send(gw.url('/'), { headers: { 'x-forwarded-for': '1.2.3.4' } }));
  expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
  expect(seen.rawHeaders.filter((h) => h.toLowerCase() === 'x-forwarded-for')).toHaveLength(1);
});

test('appends the peer to X-Forwarded-For from a trusted proxy', async () => {
  const up = await startEchoUpstream();
  const gw = await startGateway(proxyConfig(up.url, {}, TRUSTED));
  expect(seenOf(await send(gw.url('/'), { headers: { 'x-forwarded-for': '1.2.3.4' } })).headers['x-forwarded-for']).toBe('1.2.3.4, 127.0.0.1');
  expect(seenOf(await send(gw.url('/'))).headers['x-forwarded-for']).toBe('127.0.0.1');
});

test('sets X-Forwarded-Proto and X-Forwarded-Host itself for an untrusted peer', async () => {
  const up = await startEchoUpstream();
  const gw = await startGateway(proxyConfig(up.url));
  const seen = seenOf(
    await send(gw.url('/'), { headers: { host: 'app.example.com', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example' } }),
  );
  expect(seen.headers['x-forwarded-proto']).toBe('http');
  expect(seen.headers['x-forwarded-host']).toBe('app.example.com');
});

test('keeps X-Forwarded-Proto and X-Forwarded-Host from a trusted proxy', async () => {
  const up = await startEchoUpstream();
  const gw = await startGateway(proxyConfig(up.url, {}, TRUSTED));
  const seen = seenOf(
    await send(gw.url('/'), { headers: { host: 'internal:8080', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'app.example.com' } }),
  );
  expect(seen.headers['x-forwarded-proto']).toBe('https');
  expect(seen.headers['x-forwarded-host']).toBe('app.example.com');
});

test('generates a 32-hex X-Request-Id when none is sent, gives it to the upstream and echoes it to the client', async () => {
  const up = await startEchoUpstream();
  const gw = await startGateway(proxyConfig(up.url));
  const first = await send(gw.url('/'));
  const second = await send(gw.url('/'));
  const id = seenOf(first).headers['x-request-id'];
  expect(id).toMatch(REQUEST_ID);
  expect(first.headers['x-request-id']).toBe(id);
  expect(seenOf(second).headers['x-request-id']).not.toBe(id);
});

test('replaces the X-Request-Id of an untrusted peer', async () => {
  const up = await startEchoUpstream();
  const gw = await startGateway(proxyConfig(up.url));
  const res = await send(gw.url('/'), { headers: { 'x-request-id': 'client-chosen-id' } });
  const id = seenOf(res).headers['x-request-id'];
  expect(id).toMatch(REQUEST_ID);
  expect(res.headers['x-request-id']).toBe(id);
  expect(JSON.stringify(gw.logs)).not.toContain('client-chosen-id');
});

test('keeps the X-Request-Id of a trusted peer unless it is unsafe to log', async () => {
  const up = await startEchoUpstream();
  const gw = await startGateway(proxyConfig(up.url, {}, TRUSTED));
  const kept = await send(gw.url('/'), { headers: { 'x-request-id': 'edge-7f3a' } });
  expect(seenOf(kept).headers['x-request-id']).toBe('edge-7f3a');
  expect(kept.headers['x-request-id']).toBe('edge-7f3a');
  const unsafe = await send(gw.url('/'), { headers: { 'x-request-id': 'has spaces\tand tabs' } });
  expect(seenOf(unsafe).headers['x-request-id']).toMatch(REQUEST_ID);
});

test('echoes the gateway request id to the client even when the upstream answers with its own', async () => {
  const up = await startEchoUpstream('echo', (_req, res) => res.setHeader('x-request-id', 'upstream-made'));
  const gw = await startGateway(proxyConfig(up.url));
  const res = await send(gw.url('/'));
  expect(res.headers['x-request-id']).toBe(seenOf(res).headers['x-request-id']);
  expect(res.rawHeaders.filter((h) => h.toLowerCase() === 'x-request-id')).toHaveLength(1);
});

test('passes a valid traceparent and tracestate through unchanged', async () => {
  const up = await startEchoUpstream();
  const gw = await startGateway(proxyConfig(up.url));
  const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  const seen = seenOf(await send(gw.url('/'), { headers: { traceparent: tp, tracestate: 'vendor=abc' } }));
  expect(seen.headers.traceparent).toBe(tp);
  expect(seen.headers.tracestate).toBe('vendor=abc');
});

test.each([
  ['absent', undefined],
  ['malformed', 'not-a-traceparent'],
  ['an all-zero trace id', '00-00000000000000000000000000000000-00f067aa0ba902b7-01'],
  ['upper-case hex', '00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01'],
])('creates a fresh traceparent when the client one is %s', async (_label, sent) => {
  const up = await startEchoUpstream();
  const gw = await startGateway(proxyConfig(up.url));
  const seen = seenOf(await send(gw.url('/'), { headers: sent === undefined ? {} : { traceparent: sent } }));
  expect(seen.headers.traceparent).toMatch(TRACEPARENT);
  expect(seen.headers.traceparent).not.toBe(sent);
  expect(seen.rawHeaders.filter((h) => h.toLowerCase() === 'traceparent')).toHaveLength(1);
});

test('a fresh traceparent carries the request id as its trace id, so one value finds both', async () => {
  const up = await startEchoUpstream();
  const gw = await startGateway(proxyConfig(up.url));
  const seen = seenOf(await send(gw.url('/')));
  const requestId = seen.headers['x-request-id'] as string;
  expect(requestId).toMatch(REQUEST_ID);
  expect(seen.headers.traceparent).toMatch(new RegExp(`^00-${requestId}-[0-9a-f]{16}-01$`));
});

test('applies the route request and response header set/remove', async () => {
  const up = await startEchoUpstream('echo', (_req, res) => {
    res.setHeader('Server', 'upstream/1.0');
    res.setHeader('X-Powered-By', 'php');
    res.setHeader('X-Served-By', 'upstream');
  });
  const gw = await startGateway(
    proxyConfig(up.url, {
      headers: {
        request: { set: { 'X-Gateway': 'wsgate' }, remove: ['X-Drop-Me'] },
        response: { set: { 'X-Served-By': 'gateway' }, remove: ['server', 'X-Powered-By'] },
      },
    }),
  );
  const res = await send(gw.url('/'), { headers: ['X-Gateway', 'spoofed', 'X-DROP-ME', 'secret', 'X-Other', 'ok'] });
  const seen = seenOf(res);
  expect(seen.headers['x-gateway']).toBe('wsgate');
  expect(headerNames(seen.rawHeaders).filter((n) => n === 'x-gateway')).toHaveLength(1);
  expect(seen.headers['x-drop-me']).toBeUndefined();
  expect(seen.headers['x-other']).toBe('ok');
  expect(res.headers.server).toBeUndefined();
  expect(res.headers['x-powered-by']).toBeUndefined();
  expect(res.headers['x-served-by']).toBe('gateway');
});

test('forwards repeated request headers as the client sent them', async () => {
  const up = await startEchoUpstream();
  const gw = await startGateway(proxyConfig(up.url));
  const seen = seenOf(await send(gw.url('/'), { headers: ['X-Multi', 'a', 'X-Multi', 'b', 'Accept', 'text/html'] }));
  expect(seen.headers['x-multi']).toBe('a, b');
  expect(seen.headers.accept).toBe('text/html');
});
