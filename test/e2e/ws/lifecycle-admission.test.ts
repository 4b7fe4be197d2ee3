import { test, expect, onTestFinished } from 'vitest';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import { startGateway, proxyConfig } from '../../helpers/gateway.js';
import { startWsEcho, type WsUpstream } from '../../helpers/servers.js';
import { openWs, closed, rawHttp, expectEcho } from '../../helpers/clients.js';
import { jsonOf } from '../../helpers/http.js';
import type { GatewayConfig } from '../../../src/index.js';

interface Refusal {
  status: number;
  headers: IncomingMessage['headers'];
  body: { error: { code: string; message: string; requestId: string } };
}

// A handshake the gateway answers with a plain HTTP response instead of a 101.
async function refused(url: string, options: WebSocket.ClientOptions = {}): Promise<Refusal> {
  const ws = new WebSocket(url, options);
  ws.on('error', () => undefined);
  onTestFinished(() => ws.terminate());
  const opened = once(ws, 'open').then(() => {
    throw new Error('the handshake was accepted');
  });
  const [, res] = (await Promise.race([once(ws, 'unexpected-response'), opened])) as [unknown, IncomingMessage];
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return { status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(Buffer.concat(chunks).toString()) as Refusal['body'] };
}

// Counts TCP connections the upstream accepted, handshakes or not.
function countConnections(up: WsUpstream): { count: number } {
  const seen = { count: 0 };
  up.server.on('connection', () => seen.count++);
  return seen;
}

test('maxPerClient: the third connection from one address gets 429 and never reaches the upstream; a freed slot is reusable', async () => {
  const up = await startWsEcho();
  const upstreamConnections = countConnections(up);
  const gw = await startGateway(proxyConfig(up.url, { websocket: { maxPerClient: 2 } }));
  const first = await openWs(gw.wsUrl('/ws/1'));
  const second = await openWs(gw.wsUrl('/ws/2'));
  const third = await refused(gw.wsUrl('/ws/3'));
  expect(third.status).toBe(429);
  expect(third.body.error.code).toBe('WS_TOO_MANY_CONNECTIONS');
  expect(third.headers['retry-after']).toBe('1');
  expect(await gw.waitForLog((l) => l.event === 'http_request' && l.status === 429)).toMatchObject({ websocket: true, code: 'WS_TOO_MANY_CONNECTIONS', path: '/ws/3' });
  expect(up.handshakes.map((r) => r.url)).toEqual(['/ws/1', '/ws/2']);
  expect(upstreamConnections.count).toBe(2);
  // The two open ones are unaffected.
  await expectEcho(first, 'hello');
  await expectEcho(second, 'hello');
  // Closing one frees its slot once the gateway has torn the tunnel down.
  const firstClosed = closed(first);
  first.close(1000, 'bye');
  expect((await firstClosed).code).toBe(1000);
  await gw.waitForLog((l) => l.event === 'ws_close');
  const again = await openWs(gw.wsUrl('/ws/4'));
  await expectEcho(again, 'hello');
  expect(up.handshakes.map((r) => r.url)).toEqual(['/ws/1', '/ws/2', '/ws/4']);
  // And the limit holds again.
  expect((await refused(gw.wsUrl('/ws/5'))).status).toBe(429);
});

test('maxPerClient counts per user when middleware sets ctx.identity', async () => {
  const up = await startWsEcho();
  const gw = await startGateway(proxyConfig(up.url, { websocket: { maxPerClient: 2 } }), (g) =>
    g.use('app', (ctx, next) => {
      const user = ctx.req.headers['x-user'];
      if (typeof user === 'string') ctx.identity = { id: user };
      return next();
    }),
  );
  const as = (user: string): WebSocket.ClientOptions => ({ headers: { 'x-user': user } });
  const alice1 = await openWs(gw.wsUrl('/ws/alice1'), undefined, as('alice'));
  const alice2 = await openWs(gw.wsUrl('/ws/alice2'), undefined, as('alice'));
  const alice3 = await refused(gw.wsUrl('/ws/alice3'), as('alice'));
  expect(alice3.status).toBe(429);
  expect(alice3.body.error.code).toBe('WS_TOO_MANY_CONNECTIONS');
  // Bob shares alice's address and is the third connection from it, but not the third of his own.
  const bob = await openWs(gw.wsUrl('/ws/bob'), undefined, as('bob'));
  await expectEcho(bob, 'hello');
  await expectEcho(alice1, 'hello');
  await expectEcho(alice2, 'hello');
  expect(up.handshakes.map((r) => r.url)).toEqual(['/ws/alice1', '/ws/alice2', '/ws/bob']);
});

test("maxPerClient is a route's limit: tunnels on other routes do not use it up", async () => {
  const up = await startWsEcho();
  const gw = await startGateway({
    upstreams: { app: { targets: [{ url: up.url }] } },
    routes: [
      { name: 'limited', match: { path: '/limited/*' }, upstream: 'app', websocket: { maxPerClient: 1 } },
      { name: 'also-limited', match: { path: '/also/*' }, upstream: 'app', websocket: { maxPerClient: 1 } },
      { name: 'open', match: { path: '/*' }, upstream: 'app' },
    ],
  });
  const open = [await openWs(gw.wsUrl('/open/1')), await openWs(gw.wsUrl('/open/2'))];
  const limited = await openWs(gw.wsUrl('/limited/1'));
  const also = await openWs(gw.wsUrl('/also/1'));
  expect((await refused(gw.wsUrl('/limited/2'))).body.error.code).toBe('WS_TOO_MANY_CONNECTIONS');
  expect((await refused(gw.wsUrl('/also/2'))).body.error.code).toBe('WS_TOO_MANY_CONNECTIONS');
  const third = await openWs(gw.wsUrl('/open/3'));
  for (const ws of [...open, limited, also, third]) await expectEcho(ws, 'hello');
});

test('websocket.origins refuses a foreign Origin with 403 before any upstream contact', async () => {
  const up = await startWsEcho();
  const upstreamConnections = countConnections(up);
  const gw = await startGateway(proxyConfig(up.url, { websocket: { origins: ['https://app.example.com'] } }));
  const evil = await refused(gw.wsUrl('/ws'), { origin: 'https://evil.example' });
  expect(evil.status).toBe(403);
  expect(evil.body.error.code).toBe('WS_ORIGIN_FORBIDDEN');
  expect(await gw.waitForLog((l) => l.event === 'http_request' && l.status === 403)).toMatchObject({ websocket: true, code: 'WS_ORIGIN_FORBIDDEN' });
  expect(upstreamConnections.count).toBe(0);
  expect(up.handshakes).toHaveLength(0);
  // The allowed origin connects; so does a client that sends no Origin (not a browser).
  const allowed = await openWs(gw.wsUrl('/ws/app'), undefined, { origin: 'https://app.example.com' });
  await expectEcho(allowed, 'hello');
  const noOrigin = await openWs(gw.wsUrl('/ws/cli'));
  await expectEcho(noOrigin, 'hello');
  expect(up.handshakes.map((r) => [r.url, r.headers.origin])).toEqual([
    ['/ws/app', 'https://app.example.com'],
    ['/ws/cli', undefined],
  ]);
});

function capacityConfig(upstreamUrl: string, maxConnections: number): GatewayConfig {
  return {
    limits: { maxConnections },
    upstreams: { app: { targets: [{ url: upstreamUrl }] } },
    routes: [
      { name: 'ping', match: { path: '/ping' }, respond: { status: 200, json: { message: 'pong' } } },
      { name: 'app', match: { path: '/ws/*' }, upstream: 'app' },
    ],
  };
}

const GET_PING = 'GET /ping HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n';

test('limits.maxConnections: with 3 tunnels open a 4th connection gets 503 OVER_CAPACITY and is closed; a freed one is reusable', async () => {
  const up = await startWsEcho();
  const gw = await startGateway(capacityConfig(up.url, 3));
  const tunnels = [await openWs(gw.wsUrl('/ws/1')), await openWs(gw.wsUrl('/ws/2')), await openWs(gw.wsUrl('/ws/3'))];
  // With untilClose, rawHttp resolves only when the gateway has closed the connection.
  const over = await rawHttp(gw.port, GET_PING, { untilClose: true });
  expect(over.status).toBe(503);
  expect(jsonOf(over)).toMatchObject({ error: { code: 'OVER_CAPACITY' } });
  // A WebSocket handshake over the limit is refused the same way, before any upstream contact.
  const overWs = await refused(gw.wsUrl('/ws/4'));
  expect(overWs.status).toBe(503);
  expect(overWs.body.error.code).toBe('OVER_CAPACITY');
  expect(up.handshakes).toHaveLength(3);
  for (const ws of tunnels) await expectEcho(ws, 'hello');
  const firstClosed = closed(tunnels[0]!);
  tunnels[0]!.close(1000);
  await firstClosed;
  await gw.waitForLog((l) => l.event === 'ws_close');
  const ok = await rawHttp(gw.port, GET_PING, { untilClose: true });
  expect(ok.status).toBe(200);
  expect(ok.raw).toContain('{"message":"pong"}'); // chunked
});
