// The admin API (SPEC section 6): health, readiness, the views of routes, upstreams and live
// WebSocket connections, operator closes and the redacted config, over a real admin listener.
import { once } from 'node:events';
import { expect, test } from 'vitest';
import { startGateway, type TestGateway } from '../../helpers/gateway.js';
import { startHoldingUpstream, startWsEcho, type WsUpstream } from '../../helpers/servers.js';
import { closed, expectEcho, openWs } from '../../helpers/clients.js';
import { closedPort, fetchText } from '../../helpers/http.js';
import type { GatewayConfig } from '../../../src/index.js';
import type { ConnectionList, ConnectionView, RouteView, UpstreamView } from '../../../src/admin/views.js';

interface Answer<T = unknown> {
  status: number;
  contentType: string | null;
  body: T;
}

async function admin<T = unknown>(gw: TestGateway, path: string, init: RequestInit = {}): Promise<Answer<T>> {
  const res = await fetch(gw.adminUrl(path), init);
  return { status: res.status, contentType: res.headers.get('content-type'), body: (await res.json()) as T };
}

interface ErrorBody {
  error: { code: string; message: string };
}

// Two WebSocket routes to one echo upstream and an HTTP route to another upstream.
function config(echo: WsUpstream, apiUrl = 'http://127.0.0.1:1'): GatewayConfig {
  return {
    upstreams: {
      realtime: { targets: [{ url: echo.url }] },
      api: { targets: [{ url: apiUrl }] },
    },
    routes: [
      { name: 'chat', match: { path: '/chat/*' }, upstream: 'realtime' },
      { name: 'feed', match: { path: '/feed/*' }, upstream: 'realtime', stripPrefix: '/feed' },
      { name: 'api', match: { path: '/api/*', methods: ['GET'] }, upstream: 'api' },
      { name: 'hello', match: { path: '/hello' }, respond: { status: 200, body: 'hi' } },
    ],
  };
}


test('/healthz answers 200 and /readyz answers 200 while the gateway listens', async () => {
  const gw = await startGateway(config(await startWsEcho()));
  const health = await admin(gw, '/healthz');
  expect(health).toEqual({ status: 200, contentType: 'application/json', body: { status: 'ok' } });
  const ready = await admin(gw, '/readyz');
  expect(ready).toEqual({ status: 200, contentType: 'application/json', body: { status: 'ready' } });
});

test('/api/routes lists the compiled routes in file order', async () => {
  const gw = await startGateway(config(await startWsEcho()));
  const { status, body } = await admin<RouteView[]>(gw, '/api/routes');
  expect(status).toBe(200);
  expect(body.map((r) => r.name)).toEqual(['chat', 'feed', 'api', 'hello']);
  expect(body[0]).toMatchObject({ name: 'chat', match: { host: null, path: '/chat/*', methods: null }, upstream: 'realtime', respond: null, middleware: 0 });
  expect(body[1]).toMatchObject({ name: 'feed', stripPrefix: '/feed' });
  expect(body[2]).toMatchObject({ name: 'api', match: { path: '/api/*', methods: ['GET'] }, upstream: 'api' });
  expect(body[3]).toMatchObject({ name: 'hello', upstream: null, respond: { status: 200 } });
});

test('/api/upstreams counts an open tunnel in activeConnections and a held request in inFlightRequests', async () => {
  const api = await startHoldingUpstream();
  const echoUp = await startWsEcho();
  const gw = await startGateway(config(echoUp, api.url));
  const before = await admin<UpstreamView[]>(gw, '/api/upstreams');
  expect(before.status).toBe(200);
  expect(before.body).toEqual([
    expect.objectContaining({ name: 'realtime', balance: 'round_robin', targets: [expect.objectContaining({ url: echoUp.url, healthy: true, activeConnections: 0, inFlightRequests: 0 })] }),
    expect.objectContaining({ name: 'api', targets: [expect.objectContaining({ url: api.url, activeConnections: 0, inFlightRequests: 0 })] }),
  ]);

  const ws = await openWs(gw.wsUrl('/chat/room'));
  const slow = fetchText(gw.url('/api/slow'));
  const held = await api.held;
  const during = await admin<UpstreamView[]>(gw, '/api/upstreams');
  expect(during.body.find((u) => u.name === 'realtime')!.targets[0]).toMatchObject({ activeConnections: 1, inFlightRequests: 0 });
  expect(during.body.find((u) => u.name === 'api')!.targets[0]).toMatchObject({ activeConnections: 0, inFlightRequests: 1 });

  held.end('done');
  expect(await slow).toEqual({ status: 200, body: 'done' });
  const wsClosed = closed(ws);
  ws.close(1000);
  await wsClosed;
  await gw.waitForLog((l) => l.event === 'ws_close');
  const after = await admin<UpstreamView[]>(gw, '/api/upstreams');
  for (const u of after.body) for (const t of u.targets) expect(t).toMatchObject({ activeConnections: 0, inFlightRequests: 0 });
});

test('/api/connections lists a live WebSocket, and its counters grow with its messages', async () => {
  const gw = await startGateway(config(await startWsEcho()));
  const echoUrl = gw.gw.config.upstreams.get('realtime')!.targets[0]!.origin;
  const ws = await openWs(gw.wsUrl('/chat/room'), 'chat');
  const opened = await gw.waitForLog((l) => l.event === 'ws_open');

  const first = await admin<ConnectionList>(gw, '/api/connections');
  expect(first.status).toBe(200);
  expect(first.body.total).toBe(1);
  expect(first.body.connections).toHaveLength(1);
  const view = first.body.connections[0]!;
  expect(view).toEqual({
    id: opened.id,
    route: 'chat',
    path: '/chat/room',
    host: `127.0.0.1:${gw.port}`,
    client: '127.0.0.1',
    clientPort: expect.any(Number) as unknown,
    userAgent: '',
    user: null,
    target: echoUrl,
    protocol: 'chat',
    openedAt: expect.any(String) as unknown,
    lastActivity: expect.any(String) as unknown,
    messagesIn: 0,
    messagesOut: 0,
    bytesIn: 0,
    bytesOut: 0,
  });
  expect(Number.isNaN(Date.parse(view.openedAt))).toBe(false);
  expect(Date.parse(view.lastActivity)).toBeGreaterThanOrEqual(Date.parse(view.openedAt));

  await expectEcho(ws, 'one');
  await expectEcho(ws, 'two');
  await expectEcho(ws, 'three');
  const later = (await admin<ConnectionList>(gw, '/api/connections')).body.connections[0]!;
  expect(later).toMatchObject({ id: view.id, messagesIn: 3, messagesOut: 3 });
  // Each direction carried at least the three payloads (plus frame headers).
  expect(later.bytesIn).toBeGreaterThanOrEqual('onetwothree'.length);
  expect(later.bytesOut).toBeGreaterThanOrEqual('onetwothree'.length);
  expect(Date.parse(later.lastActivity)).toBeGreaterThanOrEqual(Date.parse(view.lastActivity));

  await expectEcho(ws, 'x'.repeat(1000));
  const last = (await admin<ConnectionList>(gw, '/api/connections')).body.connections[0]!;
  expect(last.messagesIn).toBe(4);
  expect(last.bytesIn).toBeGreaterThanOrEqual(later.bytesIn + 1000);
  expect(last.bytesOut).toBeGreaterThanOrEqual(later.bytesOut + 1000);
});

test('/api/connections names the socket: path without its query, host, client address and port, user agent and user (issue 10)', async () => {
  const gw = await startGateway(config(await startWsEcho()), (g) =>
    g.use('chat', (ctx, next) => {
      ctx.identity = { id: 'alice' };
      return next();
    }),
  );
  const localPort = await closedPort();
  // ws passes http.request's options on: localPort fixes the client's port to look for.
  const options = { localPort, headers: { 'user-agent': 'probe/1.0' } };
  await openWs(gw.wsUrl('/chat/room-42?access_token=t0k3n'), undefined, options);
  await openWs(gw.wsUrl('/feed/news'));
  const opened = await gw.waitForLog((l) => l.event === 'ws_open' && l.route === 'chat');

  const chat = await admin<ConnectionList>(gw, '/api/connections?route=chat');
  const view: ConnectionView = chat.body.connections[0]!;
  expect(view).toMatchObject({ path: '/chat/room-42', host: `127.0.0.1:${gw.port}`, client: '127.0.0.1', clientPort: localPort, userAgent: 'probe/1.0', user: 'alice' });
  expect(opened).toMatchObject({ id: view.id, path: '/chat/room-42', host: `127.0.0.1:${gw.port}`, client: '127.0.0.1', clientPort: localPort, userAgent: 'probe/1.0', user: 'alice' });

  // ?path= and ?client= match prefixes.
  expect((await admin<ConnectionList>(gw, '/api/connections?path=/chat/room-4')).body.connections.map((c) => c.id)).toEqual([view.id]);
  expect((await admin<ConnectionList>(gw, '/api/connections?path=/feed')).body.connections.map((c) => c.path)).toEqual(['/feed/news']);
  expect((await admin<ConnectionList>(gw, '/api/connections?path=/nope')).body.connections).toEqual([]);
  expect((await admin<ConnectionList>(gw, '/api/connections?client=127.0.')).body.connections).toHaveLength(2);
  expect((await admin<ConnectionList>(gw, '/api/connections?client=10.')).body.connections).toEqual([]);
});

test('a connection from a trusted proxy shows the forwarded address and no port', async () => {
  const gw = await startGateway({ ...config(await startWsEcho()), trustedProxies: ['127.0.0.1'] });
  await openWs(gw.wsUrl('/chat/x'), undefined, { headers: { 'x-forwarded-for': '10.1.2.3' } });
  const view = (await admin<ConnectionList>(gw, '/api/connections')).body.connections[0]!;
  expect(view).toMatchObject({ client: '10.1.2.3', clientPort: null });
  expect((await admin<ConnectionList>(gw, '/api/connections?client=10.1.')).body.connections).toHaveLength(1);
});

test('/api/connections?route= keeps one route, ?limit= caps the list, and total counts every live connection', async () => {
  const gw = await startGateway(config(await startWsEcho()));
  await openWs(gw.wsUrl('/chat/a'));
  await openWs(gw.wsUrl('/chat/b'));
  await openWs(gw.wsUrl('/feed/c'));

  const all = await admin<ConnectionList>(gw, '/api/connections');
  expect(all.body.total).toBe(3);
  expect(all.body.connections.map((c) => c.route).sort()).toEqual(['chat', 'chat', 'feed']);
  expect(new Set(all.body.connections.map((c) => c.id)).size).toBe(3);

  const feed = await admin<ConnectionList>(gw, '/api/connections?route=feed');
  expect(feed.body.connections.map((c) => c.route)).toEqual(['feed']);
  expect(feed.body.total).toBe(3);

  const chat = await admin<ConnectionList>(gw, '/api/connections?route=chat');
  expect(chat.body.connections.map((c) => c.route)).toEqual(['chat', 'chat']);

  expect((await admin<ConnectionList>(gw, '/api/connections?route=nope')).body).toEqual({ connections: [], total: 3 });
  const one = await admin<ConnectionList>(gw, '/api/connections?limit=1');
  expect(one.body.connections).toHaveLength(1);
  expect(one.body.total).toBe(3);
  const chatOne = await admin<ConnectionList>(gw, '/api/connections?route=chat&limit=1');
  expect(chatOne.body.connections.map((c) => c.route)).toEqual(['chat']);
  // Nobody is authenticated on these routes.
  expect((await admin<ConnectionList>(gw, '/api/connections?user=alice')).body.connections).toEqual([]);
});

test('/api/connections/:id answers one connection, and 404 with a JSON error for an unknown id', async () => {
  const gw = await startGateway(config(await startWsEcho()));
  const ws = await openWs(gw.wsUrl('/feed/x'));
  await expectEcho(ws, 'hello');
  const { id } = (await admin<ConnectionList>(gw, '/api/connections')).body.connections[0]!;

  const one = await admin<ConnectionView>(gw, `/api/connections/${id}`);
  expect(one.status).toBe(200);
  expect(one.body).toMatchObject({ id, route: 'feed', client: '127.0.0.1', user: null, messagesIn: 1, messagesOut: 1 });

  const missing = await admin<ErrorBody>(gw, '/api/connections/0123456789abcdef');
  expect(missing.status).toBe(404);
  expect(missing.contentType).toBe('application/json');
  expect(missing.body.error.code).toBe('NOT_FOUND');

  // Once closed, the connection is gone from the list.
  const done = closed(ws);
  ws.close(1000);
  await done;
  await gw.waitForLog((l) => l.event === 'ws_close');
  expect((await admin(gw, `/api/connections/${id}`)).status).toBe(404);
  expect((await admin<ConnectionList>(gw, '/api/connections')).body).toEqual({ connections: [], total: 0 });
});

test('DELETE /api/connections/:id answers 202 and closes both sides with 1008 "closed by operator"', async () => {
  const up = await startWsEcho();
  const gw = await startGateway(config(up));
  const victim = await openWs(gw.wsUrl('/chat/room'));
  await expectEcho(victim, 'hi');
  const { id } = (await admin<ConnectionList>(gw, '/api/connections')).body.connections[0]!;
  const upstreamVictim = up.connections[0]!;
  const survivor = await openWs(gw.wsUrl('/chat/other'));
  const clientClosed = closed(victim);
  const upstreamClosed = once(upstreamVictim, 'close');

  const res = await admin(gw, `/api/connections/${id}`, { method: 'DELETE' });
  expect(res).toEqual({ status: 202, contentType: 'application/json', body: { status: 'closing', id, code: 1008, reason: 'closed by operator' } });
  expect(await clientClosed).toEqual({ code: 1008, reason: 'closed by operator' });
  const [code, reason] = (await upstreamClosed) as [number, Buffer];
  expect({ code, reason: reason.toString() }).toEqual({ code: 1008, reason: 'closed by operator' });
  expect(await gw.waitForLog((l) => l.event === 'ws_close' && l.id === id)).toMatchObject({
    code: 1008,
    reason: 'closed by operator',
    initiator: 'gateway',
    error: 'WS_OPERATOR_CLOSE',
  });

  // The other connection is untouched; a second DELETE of the closed one is 404.
  await expectEcho(survivor, 'still open');
  expect((await admin(gw, `/api/connections/${id}`, { method: 'DELETE' })).status).toBe(404);
});

test('DELETE with ?code=4000&reason=bye closes the client with 4000 "bye"', async () => {
  const up = await startWsEcho();
  const gw = await startGateway(config(up));
  const ws = await openWs(gw.wsUrl('/chat/room'));
  const { id } = (await admin<ConnectionList>(gw, '/api/connections')).body.connections[0]!;
  const clientClosed = closed(ws);
  const upstreamClosed = once(up.connections[0]!, 'close');
  const res = await admin(gw, `/api/connections/${id}?code=4000&reason=bye`, { method: 'DELETE' });
  expect(res.status).toBe(202);
  expect(res.body).toEqual({ status: 'closing', id, code: 4000, reason: 'bye' });
  expect(await clientClosed).toEqual({ code: 4000, reason: 'bye' });
  expect((await upstreamClosed)[0]).toBe(4000);
});

test.each(['1005', '1006', '1015', '999', '5000', 'abc', '1008.5', ''])(
  'DELETE with ?code=%s answers 400 and leaves the connection open',
  async (code) => {
    const gw = await startGateway(config(await startWsEcho()));
    const ws = await openWs(gw.wsUrl('/chat/room'));
    const { id } = (await admin<ConnectionList>(gw, '/api/connections')).body.connections[0]!;
    const res = await admin<ErrorBody>(gw, `/api/connections/${id}?code=${code}`, { method: 'DELETE' });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('BAD_REQUEST');
    await expectEcho(ws, 'still open');
    expect((await admin(gw, `/api/connections/${id}`)).status).toBe(200);
  },
);

test('DELETE with a reason longer than 123 bytes answers 400', async () => {
  const gw = await startGateway(config(await startWsEcho()));
  const ws = await openWs(gw.wsUrl('/chat/room'));
  const { id } = (await admin<ConnectionList>(gw, '/api/connections')).body.connections[0]!;
  const res = await admin<ErrorBody>(gw, `/api/connections/${id}?reason=${'é'.repeat(62)}`, { method: 'DELETE' });
  expect(res.status).toBe(400);
  expect(res.body.error.code).toBe('BAD_REQUEST');
  await expectEcho(ws, 'still open');
});

test('/api/config shows the running config with admin.token redacted', async () => {
  const token = 'adm-1f3a9c2e7b';
  const gw = await startGateway({ ...config(await startWsEcho()), admin: { listen: '127.0.0.1:0', token } });
  const res = await fetch(gw.adminUrl('/api/config'), { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  const text = await res.text();
  expect(text).not.toContain(token);
  const body = JSON.parse(text) as { admin: { listen: string; token: string }; routes: { name: string }[]; limits: Record<string, unknown> };
  expect(body.admin).toEqual({ listen: '127.0.0.1:0', token: '[redacted]' });
  expect(body.routes.map((r) => r.name)).toEqual(['chat', 'feed', 'api', 'hello']);
  // Defaults are filled in: it is the config the gateway runs, not the file as written.
  expect(body.limits).toMatchObject({ drainTimeout: '30s' });
});

test('an unknown admin path answers 404 and a wrong method 405, both as JSON errors', async () => {
  const gw = await startGateway(config(await startWsEcho()));
  const unknown = await admin<ErrorBody>(gw, '/api/nothing');
  expect(unknown.status).toBe(404);
  expect(unknown.contentType).toBe('application/json');
  expect(unknown.body.error).toMatchObject({ code: 'NOT_FOUND' });
  expect((await admin<ErrorBody>(gw, '/nope')).status).toBe(404);

  const getReload = await admin<ErrorBody>(gw, '/api/reload');
  expect(getReload.status).toBe(405);
  expect(getReload.body.error.code).toBe('METHOD_NOT_ALLOWED');
  const put = await admin<ErrorBody>(gw, '/api/connections/abc', { method: 'PUT' });
  expect(put.status).toBe(405);
});
