import { test, expect } from 'vitest';
import { startGateway, proxyConfig, type TestGateway } from '../../helpers/gateway.js';
import { startWsEcho } from '../../helpers/servers.js';
import { openWs, nextMessage, rawHttp } from '../../helpers/clients.js';
import { errorCodeOf } from '../../helpers/http.js';
import { handshakeRequest } from '../../helpers/ws.js';

// Every rejected handshake is answered by the gateway itself: the upstream never sees a connection.
async function setup(): Promise<{ port: number; upstreamConnections: () => number; gw: TestGateway }> {
  const up = await startWsEcho();
  let connections = 0;
  up.server.on('connection', () => connections++);
  const gw = await startGateway({
    upstreams: { app: { targets: [{ url: up.url }] } },
    routes: [{ name: 'ws', match: { path: '/ws/*' }, upstream: 'app' }],
  });
  return { port: gw.port, upstreamConnections: () => connections, gw };
}

test('rejects a POST upgrade with 400 WS_BAD_HANDSHAKE and never contacts the upstream', async () => {
  const { port, upstreamConnections } = await setup();
  const res = await rawHttp(port, handshakeRequest(port, '/ws/a', {}, 'POST /ws/a HTTP/1.1'));
  expect(res.status).toBe(400);
  expect(errorCodeOf(res)).toBe('WS_BAD_HANDSHAKE');
  expect(upstreamConnections()).toBe(0);
});

test('rejects an HTTP/1.0 upgrade with 400', async () => {
  const { port, upstreamConnections } = await setup();
  const res = await rawHttp(port, handshakeRequest(port, '/ws/a', {}, 'GET /ws/a HTTP/1.0'));
  expect(res.status).toBe(400);
  expect(errorCodeOf(res)).toBe('WS_BAD_HANDSHAKE');
  expect(upstreamConnections()).toBe(0);
});

test.each([
  ['missing', null],
  ['too short', 'c2hvcnQ='],
  ['17 bytes', Buffer.alloc(17, 1).toString('base64')],
])('rejects a %s Sec-WebSocket-Key with 400 WS_BAD_HANDSHAKE', async (_name, key) => {
  const { port, upstreamConnections } = await setup();
  const res = await rawHttp(port, handshakeRequest(port, '/ws/a', { 'Sec-WebSocket-Key': key }));
  expect(res.status).toBe(400);
  expect(res.headers['content-type']).toBe('application/json');
  expect(errorCodeOf(res)).toBe('WS_BAD_HANDSHAKE');
  expect(upstreamConnections()).toBe(0);
});

test('rejects Upgrade: websocket without Connection: upgrade with 400', async () => {
  const { port, upstreamConnections } = await setup();
  const noConnection = await rawHttp(port, handshakeRequest(port, '/ws/a', { Connection: null }));
  expect(noConnection.status).toBe(400);
  expect(errorCodeOf(noConnection)).toBe('WS_BAD_HANDSHAKE');
  const keepAlive = await rawHttp(port, handshakeRequest(port, '/ws/a', { Connection: 'keep-alive' }));
  expect(keepAlive.status).toBe(400);
  expect(errorCodeOf(keepAlive)).toBe('WS_BAD_HANDSHAKE');
  expect(upstreamConnections()).toBe(0);
});

test('answers version 8 with 426 and Sec-WebSocket-Version: 13', async () => {
  const { port, upstreamConnections } = await setup();
  const res = await rawHttp(port, handshakeRequest(port, '/ws/a', { 'Sec-WebSocket-Version': '8' }));
  expect(res.status).toBe(426);
  expect(res.headers['sec-websocket-version']).toBe('13');
  expect(errorCodeOf(res)).toBe('WS_BAD_VERSION');
  expect(upstreamConnections()).toBe(0);
});

test('answers an upgrade on an unknown route with 404 ROUTE_NOT_FOUND', async () => {
  const { port, upstreamConnections, gw } = await setup();
  const res = await rawHttp(port, handshakeRequest(port, '/elsewhere'));
  expect(res.status).toBe(404);
  expect(errorCodeOf(res)).toBe('ROUTE_NOT_FOUND');
  expect(upstreamConnections()).toBe(0);
  expect(gw.logs.some((l) => l.event === 'ws_open')).toBe(false);
});

test('accepts a valid handshake on the same route (the rejections above are not the route)', async () => {
  const { gw, upstreamConnections } = await setup();
  const ws = await openWs(gw.wsUrl('/ws/a'));
  ws.send('ok');
  expect((await nextMessage(ws)).data.toString()).toBe('ok');
  expect(upstreamConnections()).toBe(1);
});

test('proxyConfig routes every path, so a valid handshake anywhere opens a tunnel', async () => {
  const up = await startWsEcho();
  const gw = await startGateway(proxyConfig(up.url));
  const ws = await openWs(gw.wsUrl('/any/where?x=1'));
  ws.send('x');
  expect((await nextMessage(ws)).data.toString()).toBe('x');
  expect(up.handshakes[0]!.url).toBe('/any/where?x=1');
});
