import { test, expect } from 'vitest';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { startGateway, proxyConfig } from '../../helpers/gateway.js';
import { startWsEcho } from '../../helpers/servers.js';
import { openWs, nextMessage, closed, rawHttp } from '../../helpers/clients.js';
import { errorCodeOf, REQUEST_ID, TRACEPARENT } from '../../helpers/http.js';
import { handshakeRequest, startHandshakeUpstream, switchingProtocols } from '../../helpers/ws.js';

test('relays an upstream 403 with its JSON body as plain HTTP and opens no tunnel', async () => {
  const body = JSON.stringify({ denied: true, why: 'not on the list' });
  const up = await startHandshakeUpstream(({ socket }) => {
    socket.end(`HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nx-upstream: yes\r\n\r\n${body}`);
  });
  const gw = await startGateway(proxyConfig(up.url));
  const res = await rawHttp(gw.port, handshakeRequest(gw.port, '/ws'));
  expect(res.status).toBe(403);
  expect(res.headers['content-type']).toBe('application/json');
  expect(res.headers['x-upstream']).toBe('yes');
  expect(res.headers.upgrade).toBeUndefined();
  expect(res.body).toBe(body);
  const access = await gw.waitForLog((l) => l.event === 'http_request');
  expect(access).toMatchObject({ status: 403, websocket: true });
  expect(gw.logs.some((l) => l.event === 'ws_open')).toBe(false);
});

test('a ws client sees the upstream 403 as an unexpected response', async () => {
  const up = await startHandshakeUpstream(({ socket }) => {
    socket.end('HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}');
  });
  const gw = await startGateway(proxyConfig(up.url));
  await expect(openWs(gw.wsUrl('/ws'))).rejects.toThrow('unexpected response 403');
  expect(gw.logs.some((l) => l.event === 'ws_open')).toBe(false);
});

test('answers 502 UPSTREAM_BAD_RESPONSE when the upstream 101 has a wrong Sec-WebSocket-Accept', async () => {
  const up = await startHandshakeUpstream(({ socket }) => {
    socket.write(switchingProtocols('AAAAAAAAAAAAAAAAAAAAAA=='));
  });
  const gw = await startGateway(proxyConfig(up.url));
  const res = await rawHttp(gw.port, handshakeRequest(gw.port, '/ws'));
  expect(res.status).toBe(502);
  expect(errorCodeOf(res)).toBe('UPSTREAM_BAD_RESPONSE');
  expect(up.requests).toHaveLength(1);
  expect(gw.logs.some((l) => l.event === 'ws_open')).toBe(false);
});

test('answers 502 UPSTREAM_BAD_RESPONSE when the upstream picks a subprotocol nobody offered', async () => {
  const up = await startHandshakeUpstream(({ socket, key }) => {
    socket.write(switchingProtocols(key, 'Sec-WebSocket-Protocol: evil\r\n'));
  });
  const gw = await startGateway(proxyConfig(up.url));
  const res = await rawHttp(gw.port, handshakeRequest(gw.port, '/ws', { 'Sec-WebSocket-Protocol': 'a, b' }));
  expect(res.status).toBe(502);
  expect(errorCodeOf(res)).toBe('UPSTREAM_BAD_RESPONSE');
});

test('answers 502 UPSTREAM_UNAVAILABLE when the upstream refuses the connection', async () => {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const gw = await startGateway(proxyConfig(`http://127.0.0.1:${port}`));
  const res = await rawHttp(gw.port, handshakeRequest(gw.port, '/ws'));
  expect(res.status).toBe(502);
  expect(errorCodeOf(res)).toBe('UPSTREAM_UNAVAILABLE');
  expect(gw.logs.some((l) => l.event === 'ws_open')).toBe(false);
});

test('answers 504 UPSTREAM_TIMEOUT when the upstream never answers the handshake', async () => {
  const up = await startHandshakeUpstream(() => undefined);
  const gw = await startGateway(proxyConfig(up.url, {}, { upstreams: { app: { targets: [{ url: up.url }], timeouts: { connect: '100ms', response: '150ms' } } } }));
  const res = await rawHttp(gw.port, handshakeRequest(gw.port, '/ws'));
  expect(res.status).toBe(504);
  expect(errorCodeOf(res)).toBe('UPSTREAM_TIMEOUT');
  expect(up.requests).toHaveLength(1);
});

test('the upstream chooses among the offered subprotocols and the client sees its choice', async () => {
  const up = await startWsEcho({ handleProtocols: (offered) => (offered.has('b') ? 'b' : false) });
  const gw = await startGateway(proxyConfig(up.url));
  const ws = await openWs(gw.wsUrl('/ws'), ['a', 'b']);
  expect(ws.protocol).toBe('b');
  expect(up.handshakes[0]!.headers['sec-websocket-protocol']).toBe('a,b');
  const open = await gw.waitForLog((l) => l.event === 'ws_open');
  expect(open).toMatchObject({ protocol: 'b', route: 'app' });
});

test('the upstream handshake carries X-Forwarded-* and the request id, and no hop-by-hop header', async () => {
  const up = await startHandshakeUpstream(({ socket, key }) => {
    socket.write(switchingProtocols(key));
  });
  const gw = await startGateway(proxyConfig(up.url));
  const res = await rawHttp(
    gw.port,
    handshakeRequest(gw.port, '/chat?room=1', {
      Connection: 'Upgrade, X-Secret',
      'X-Secret': 'do not forward',
      'Keep-Alive': 'timeout=5',
      'Proxy-Authorization': 'Basic Zm9vOmJhcg==',
      TE: 'trailers',
      'X-Forwarded-For': '203.0.113.9',
      'X-Forwarded-Host': 'spoofed.example',
      'X-Custom': 'kept',
      'Sec-WebSocket-Protocol': 'chat',
      'Sec-WebSocket-Extensions': 'x-test-ext',
    }),
  );
  expect(res.status).toBe(101);
  const seen = up.requests[0]!;
  expect(seen.requestHead.startsWith('GET /chat?room=1 HTTP/1.1')).toBe(true);
  expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
  expect(seen.headers['x-forwarded-proto']).toBe('http');
  expect(seen.headers['x-forwarded-host']).toBe(`127.0.0.1:${gw.port}`);
  expect(seen.headers['x-request-id']).toMatch(REQUEST_ID);
  expect(seen.headers.traceparent).toMatch(TRACEPARENT);
  expect(seen.headers['x-custom']).toBe('kept');
  expect(seen.headers.host).toBe(`127.0.0.1:${gw.port}`);
  expect(seen.headers['sec-websocket-version']).toBe('13');
  expect(seen.headers['sec-websocket-protocol']).toBe('chat');
  expect(seen.headers['sec-websocket-extensions']).toBe('x-test-ext');
  expect(seen.headers.connection).toBe('Upgrade');
  expect(seen.headers.upgrade).toBe('websocket');
  for (const name of ['x-secret', 'keep-alive', 'proxy-authorization', 'te']) expect(seen.headers[name], name).toBeUndefined();
  expect(seen.requestHead.match(/^connection:/gim)).toHaveLength(1);
});

test('permessage-deflate is negotiated end to end and a compressed 100 KB text message round-trips', async () => {
  const up = await startWsEcho({ perMessageDeflate: true });
  const gw = await startGateway(proxyConfig(up.url));
  const ws = await openWs(gw.wsUrl('/ws'), undefined, { perMessageDeflate: true });
  expect(ws.extensions).toContain('permessage-deflate');
  const text = 'the quick brown fox jumps over the lazy dog. '.repeat(2300).slice(0, 100_000);
  ws.send(text);
  const m = await nextMessage(ws);
  expect(m.isBinary).toBe(false);
  expect(m.data.toString()).toBe(text);
  const done = closed(ws);
  ws.close(1000);
  await done;
  const log = await gw.waitForLog((l) => l.event === 'ws_close');
  expect(log).toMatchObject({ code: 1000, messagesIn: 1, messagesOut: 1 });
  // The message crossed compressed (RSV1 set), so far fewer bytes than the text travelled.
  expect(log.bytesIn as number).toBeLessThan(10_000);
  expect(log.bytesOut as number).toBeLessThan(10_000);
});
