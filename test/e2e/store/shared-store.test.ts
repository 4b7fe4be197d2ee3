// Two gateway instances sharing one real redis-server (issue 11): one maxPerClient count, one
// connection list, an operator's close reaching the instance that holds the socket, and Redis
// dying and coming back mid-test without a request failing because of it.
import { expect, test } from 'vitest';
import { runCli } from '../../helpers/cli.js';
import { closed, expectEcho, openWs, rawHttp } from '../../helpers/clients.js';
import { startGateway, type TestGateway } from '../../helpers/gateway.js';
import { jsonOf } from '../../helpers/http.js';
import { openStoreConnection, startRedis } from '../../helpers/redis.js';
import { startHttpUpstream, startRawUpstream, startWsEcho } from '../../helpers/servers.js';
import { handshakeRequest } from '../../helpers/ws.js';
import type { GatewayConfig } from '../../../src/index.js';
import type { ClusterConnectionList, ConnectionList, ConnectionView } from '../../../src/admin/views.js';

// A generous store.timeout by default: a loaded test machine must not look like a slow Redis.
async function config(redisUrl: string, maxPerClient = 100, timeout = '1s'): Promise<GatewayConfig> {
  const echo = await startWsEcho();
  const api = await startHttpUpstream((_req, res) => res.end('ok'));
  return {
    store: { redis: redisUrl, timeout },
    upstreams: { realtime: { targets: [{ url: echo.url }] }, api: { targets: [{ url: api.url }] } },
    routes: [
      { name: 'chat', match: { path: '/chat/*' }, upstream: 'realtime', websocket: { maxPerClient } },
      { name: 'feed', match: { path: '/feed/*' }, upstream: 'realtime' },
      { name: 'api', match: { path: '/api/*' }, upstream: 'api' },
    ],
  };
}

// Two instances of one config; resolves once both reached Redis.
async function twoInstances(redisUrl: string, maxPerClient?: number, timeout?: string): Promise<[TestGateway, TestGateway]> {
  const cfg = await config(redisUrl, maxPerClient, timeout);
  const gws = await Promise.all([startGateway(cfg), startGateway(cfg)]);
  await Promise.all(gws.map((g) => g.waitForLog((l) => l.event === 'store_up')));
  return gws;
}

interface Answer<T> {
  status: number;
  body: T;
}

async function adminJson<T = unknown>(gw: TestGateway, path: string, method = 'GET'): Promise<Answer<T>> {
  const res = await fetch(gw.adminUrl(path), { method });
  const body: unknown = await res.json();
  return { status: res.status, body: body as T };
}

async function handshakeStatus(gw: TestGateway, path: string): Promise<{ status: number; code: string | undefined }> {
  const answer = await rawHttp(gw.port, handshakeRequest(gw.port, path));
  return { status: answer.status, code: answer.status === 101 ? undefined : (jsonOf(answer) as { error: { code: string } }).error.code };
}

test('maxPerClient counts a client across instances: its third connection is refused on either one', async () => {
  const redis = await startRedis();
  const [a, b] = await twoInstances(redis.url, 2);
  await expectEcho(await openWs(a.wsUrl('/chat/1')), 'one');
  await expectEcho(await openWs(b.wsUrl('/chat/2')), 'two');
  expect(await handshakeStatus(a, '/chat/3')).toEqual({ status: 429, code: 'WS_TOO_MANY_CONNECTIONS' });
  expect(await handshakeStatus(b, '/chat/4')).toEqual({ status: 429, code: 'WS_TOO_MANY_CONNECTIONS' });
  expect(await a.waitForLog((l) => l.event === 'http_request' && l.status === 429)).toMatchObject({ websocket: true, code: 'WS_TOO_MANY_CONNECTIONS' });
  // A route without maxPerClient is not counted at all.
  await expectEcho(await openWs(a.wsUrl('/feed/1')), 'free');
});

test('the cluster list merges every instance, each connection with the instance that holds it', async () => {
  const redis = await startRedis();
  const [a, b] = await twoInstances(redis.url);
  await openWs(a.wsUrl('/chat/on-a'));
  await openWs(b.wsUrl('/chat/on-b'));
  await openWs(b.wsUrl('/feed/on-b'));
  const local = await adminJson<ConnectionList>(a, '/api/connections');
  expect(local.body.connections.map((c) => c.path)).toEqual(['/chat/on-a']);
  const cluster = await adminJson<ClusterConnectionList>(a, '/api/connections?scope=cluster');
  expect(cluster.status).toBe(200);
  expect(cluster.body).toMatchObject({ scope: 'cluster', total: 3, complete: true });
  expect(cluster.body.instances).toHaveLength(2);
  const byPath = new Map(cluster.body.connections.map((c) => [c.path, c]));
  expect([...byPath.keys()].sort()).toEqual(['/chat/on-a', '/chat/on-b', '/feed/on-b']);
  expect(byPath.get('/chat/on-b')!.instance).toBe(byPath.get('/feed/on-b')!.instance);
  expect(byPath.get('/chat/on-b')!.instance).not.toBe(byPath.get('/chat/on-a')!.instance);
  // Filters apply to every instance's connections; one of B's is also readable through A by id.
  const chat = await adminJson<ClusterConnectionList>(b, '/api/connections?scope=cluster&route=chat');
  expect(chat.body.connections.map((c) => c.path).sort()).toEqual(['/chat/on-a', '/chat/on-b']);
  const one = await adminJson<ConnectionView>(a, `/api/connections/${byPath.get('/feed/on-b')!.id}`);
  expect(one).toMatchObject({ status: 200, body: { route: 'feed', path: '/feed/on-b' } });
  expect((await adminJson(a, '/api/connections?scope=everywhere')).status).toBe(400);
});

test('wsgate connections --scope cluster lists both instances\' connections with the instance of each', async () => {
  const redis = await startRedis();
  const [a, b] = await twoInstances(redis.url);
  await openWs(a.wsUrl('/chat/on-a'));
  await openWs(b.wsUrl('/chat/on-b'));
  const ids = (await adminJson<ClusterConnectionList>(a, '/api/connections?scope=cluster')).body.connections.map((c) => [c.id, c.instance!]);
  const out = await runCli(['connections', '--admin', a.adminUrl(''), '--scope', 'cluster']);
  expect(out.code).toBe(0);
  const lines = out.stdout.trim().split('\n');
  expect(lines[0]).toMatch(/^ID\s+ROUTE\s+USER\s+CLIENT\s+AGE\s+MSGS IN\s+MSGS OUT\s+INSTANCE$/);
  for (const [id, instance] of ids) expect(lines.some((l) => l.startsWith(id!) && l.endsWith(instance!))).toBe(true);
  expect(lines.at(-1)).toBe('2 shown, 2 live on 2 instances');
});

test('DELETE on instance A closes a socket instance B holds, with the code and reason asked for', async () => {
  const redis = await startRedis();
  const [a, b] = await twoInstances(redis.url);
  const ws = await openWs(b.wsUrl('/chat/held-by-b'));
  const [{ id }] = (await adminJson<ConnectionList>(b, '/api/connections')).body.connections as [ConnectionView];
  const closing = closed(ws);
  const kick = await adminJson(a, `/api/connections/${id}?code=4001&reason=moved`, 'DELETE');
  expect(kick).toEqual({ status: 202, body: { status: 'closing', id, code: 4001, reason: 'moved' } });
  expect(await closing).toEqual({ code: 4001, reason: 'moved' });
  expect(await b.waitForLog((l) => l.event === 'ws_close' && l.id === id)).toMatchObject({ code: 4001, initiator: 'gateway' });
  // An id no instance holds: 404 once every instance said so.
  const missing = await adminJson<{ error: { code: string } }>(a, '/api/connections/nosuchid', 'DELETE');
  expect(missing.status).toBe(404);
  expect(missing.body.error.code).toBe('NOT_FOUND');
});

test('Redis killed mid-test: every request still succeeds, limits count per instance, then the store recovers by itself', async () => {
  const redis = await startRedis();
  const [a, b] = await twoInstances(redis.url, 1);
  await expectEcho(await openWs(a.wsUrl('/chat/1')), 'shared');
  expect((await handshakeStatus(b, '/chat/2')).status).toBe(429); // one slot, shared
  expect(await fetch(a.adminUrl('/metrics')).then((r) => r.text())).toMatch(/^wsgate_store_up 1$/m);

  await redis.stop();
  await Promise.all([a, b].map((g) => g.waitForLog((l) => l.event === 'store_degraded')));
  // Degraded: HTTP and WebSocket go on; maxPerClient holds per instance (B has no slot taken yet).
  for (let i = 0; i < 20; i++) {
    expect((await fetch(a.url(`/api/${i}`))).status).toBe(200);
    expect((await fetch(b.url(`/api/${i}`))).status).toBe(200);
  }
  await expectEcho(await openWs(b.wsUrl('/chat/3')), 'local');
  expect((await handshakeStatus(b, '/chat/4')).status).toBe(429);
  expect(await fetch(b.adminUrl('/metrics')).then((r) => r.text())).toMatch(/^wsgate_store_up 0$/m);
  const partial = await adminJson<ClusterConnectionList>(a, '/api/connections?scope=cluster');
  expect(partial.body).toMatchObject({ complete: false, total: 1 });

  await redis.start();
  await Promise.all([a, b].map((g) => g.waitForLog((l) => l.event === 'store_up' && l.recovered === true)));
  expect(a.logs.filter((l) => l.event === 'store_degraded')).toHaveLength(1);
  expect(await fetch(a.adminUrl('/metrics')).then((r) => r.text())).toMatch(/^wsgate_store_up 1$/m);
  const whole = await adminJson<ClusterConnectionList>(a, '/api/connections?scope=cluster');
  expect(whole.body).toMatchObject({ complete: true, total: 2 });
  expect((await fetch(a.url('/api/after'))).status).toBe(200);
});

test('a gateway whose Redis is down at start starts anyway, reports degraded and serves', async () => {
  const redis = await startRedis();
  await redis.stop();
  const gw = await startGateway(await config(redis.url, 1));
  expect(await gw.waitForLog((l) => l.event === 'store_degraded')).toMatchObject({ level: 'warn' });
  expect((await fetch(gw.url('/api/x'))).status).toBe(200);
  await expectEcho(await openWs(gw.wsUrl('/chat/1')), 'alone');
  expect(await fetch(gw.adminUrl('/metrics')).then((r) => r.text())).toMatch(/^wsgate_store_up 0$/m);
  await redis.start();
  await gw.waitForLog((l) => l.event === 'store_up');
});

test('a "Redis" that answers garbage degrades the store and nothing else', async () => {
  const liar = await startRawUpstream((socket) => {
    socket.on('data', () => socket.write('HTTP/1.1 400 Bad Request\r\n\r\n\x00\xff'));
  });
  const gw = await startGateway(await config(`redis://127.0.0.1:${liar.port}`, 1));
  expect(await gw.waitForLog((l) => l.event === 'store_degraded')).toMatchObject({ level: 'warn' });
  expect((await fetch(gw.url('/api/x'))).status).toBe(200);
  await expectEcho(await openWs(gw.wsUrl('/chat/1')), 'still here');
  expect((await handshakeStatus(gw, '/chat/2')).status).toBe(429); // counted locally
  expect(gw.logs.filter((l) => l.event === 'store_up')).toHaveLength(0);
});

test('a close asked by another instance is held to the operator codes: 1006 never goes on the wire', async () => {
  const redis = await startRedis();
  const [a, b] = await twoInstances(redis.url);
  const ws = await openWs(b.wsUrl('/chat/x'));
  const [{ id }] = (await adminJson<ConnectionList>(b, '/api/connections')).body.connections as [ConnectionView];
  // What DELETE would refuse with 400 on A, a forged ask asks of B directly.
  const forged = await openStoreConnection(redis.url);
  await forged.conn.command((c) => c.publish('wsgate:ask', JSON.stringify({ req: 'r1', from: 'intruder', op: 'kick', id, code: 1006, reason: 'x' })));
  await forged.conn.command((c) => c.publish('wsgate:ask', 'not json'));
  // B still holds it; a valid close through A then reaches it.
  const closing = closed(ws);
  expect((await adminJson(a, `/api/connections/${id}`, 'DELETE')).status).toBe(202);
  expect(await closing).toEqual({ code: 1008, reason: 'closed by operator' });
});

test('a slow Redis holds no handshake: it is admitted on the local count while Redis is still busy, then the store recovers', async () => {
  const redis = await startRedis();
  const [a] = await twoInstances(redis.url, 1, '100ms');
  const blocker = await openStoreConnection(redis.url, { timeoutMs: 5_000 });
  let redisBusy = true;
  // A script that spins for 800 ms, far beyond store.timeout (100 ms): Redis answers nobody meanwhile.
  const busy = blocker.conn
    .command((c) => c.eval("local s = redis.call('TIME'); local t0 = s[1] * 1000 + s[2] / 1000; repeat local n = redis.call('TIME') until n[1] * 1000 + n[2] / 1000 - t0 > 800; return 1", 0))
    .then(() => {
      redisBusy = false;
    });
  const ws = await openWs(a.wsUrl('/chat/while-busy'));
  expect(redisBusy).toBe(true); // the 101 came while Redis was still spinning
  await expectEcho(ws, 'not held');
  expect(await a.waitForLog((l) => l.event === 'store_degraded')).toMatchObject({ level: 'warn' });
  await busy;
  await a.waitForLog((l) => l.event === 'store_up' && l.recovered === true);
});
