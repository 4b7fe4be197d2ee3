// e2e: GET /api/events, the dashboard's Server-Sent Events stream (issue 10): it needs the admin
// token, sends a snapshot at once and then one a second with rates computed from the gateway's own
// metrics, ends when the gateway stops, and works the same on a cluster primary (`workers: 2`).
// With a shared store (issue 11) it lists every instance's connections when asked for scope=cluster.
import { expect, test } from 'vitest';
import { startGateway, proxyConfig } from '../../helpers/gateway.js';
import { startHttpUpstream, startWsEcho } from '../../helpers/servers.js';
import { closed, expectEcho, openWs } from '../../helpers/clients.js';
import { startCli, writeConfig, yamlConfig } from '../../helpers/cli.js';
import { startRedis } from '../../helpers/redis.js';
import type { Snapshot } from '../../../src/admin/snapshot.js';
import type { ClusterConnectionList } from '../../../src/admin/views.js';

const TOKEN = 'events-token-5678';
const AUTH = { authorization: `Bearer ${TOKEN}` };

// Reads `event: snapshot` blocks off the stream as they come; `next(match)` resolves with the first
// snapshot (from now on) that matches.
async function openEvents(url: string, headers: Record<string, string> = AUTH): Promise<{ res: Response; next(match?: (s: Snapshot) => boolean): Promise<Snapshot>; ended: Promise<void>; abort(): void }> {
  const controller = new AbortController();
  const res = await fetch(url, { headers, signal: controller.signal });
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const waiters: { match: (s: Snapshot) => boolean; resolve: (s: Snapshot) => void }[] = [];
  const ended = (async (): Promise<void> => {
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += value;
      for (let at = buf.indexOf('\n\n'); at >= 0; at = buf.indexOf('\n\n')) {
        const block = buf.slice(0, at);
        buf = buf.slice(at + 2);
        const data = /^data: (.*)$/m.exec(block);
        if (!block.startsWith('event: snapshot') || data === null) continue;
        const snapshot = JSON.parse(data[1]!) as Snapshot;
        for (let i = waiters.length - 1; i >= 0; i--) if (waiters[i]!.match(snapshot)) waiters.splice(i, 1)[0]!.resolve(snapshot);
      }
    }
  })();
  ended.catch(() => undefined);
  return {
    res,
    next: (match = () => true) => new Promise((resolve) => waiters.push({ match, resolve })),
    ended,
    abort: () => controller.abort(),
  };
}

test('GET /api/events without the admin token is refused with 401 UNAUTHORIZED, as every /api endpoint', async () => {
  const up = await startWsEcho();
  const gw = await startGateway(proxyConfig(up.url, {}, { admin: { listen: '127.0.0.1:0', token: TOKEN } }));
  for (const headers of [{} as Record<string, string>, { authorization: 'Bearer wrong-token-0000000' }]) {
    const res = await fetch(gw.adminUrl('/api/events'), { headers });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('UNAUTHORIZED');
  }
});

test('the stream sends a snapshot at once, then rates of HTTP requests, messages and bytes, p50/p99 and the live connection', async () => {
  const up = await startWsEcho();
  const gw = await startGateway(proxyConfig(up.url, {}, { admin: { listen: '127.0.0.1:0', token: TOKEN } }));
  const events = await openEvents(gw.adminUrl('/api/events'));
  expect(events.res.status).toBe(200);
  expect(events.res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');

  const first = await events.next();
  expect(first).toMatchObject({ intervalMs: null, ready: true, metrics: true, sharedStore: false, totals: { connections: 0, requestsPerSec: null } });
  expect(first.routes).toEqual([expect.objectContaining({ name: 'app', path: '/*', upstream: 'app', wsActive: 0 })]);
  expect(first.upstreams).toEqual([expect.objectContaining({ name: 'app', targets: [expect.objectContaining({ url: up.url, healthy: true, healthReason: 'ok' })] })]);
  expect(first.connections).toEqual({ connections: [], total: 0 });

  // Traffic: HTTP requests (the echo upstream answers 426 to plain HTTP) and WebSocket messages.
  const ws = await openWs(gw.wsUrl('/ws/room?secret=1'));
  for (let i = 0; i < 5; i++) await expectEcho(ws, `hello ${i}`);
  for (let i = 0; i < 4; i++) expect((await fetch(gw.url('/plain'))).status).toBe(426);

  const moving = await events.next((s) => (s.totals.requestsPerSec ?? 0) > 0 && (s.totals.messagesInPerSec ?? 0) > 0);
  expect(moving.intervalMs).toBeGreaterThan(0);
  expect(moving.totals.connections).toBe(1);
  expect(moving.totals.messagesOutPerSec).toBeGreaterThan(0);
  expect(moving.totals.bytesInPerSec).toBeGreaterThan(0);
  expect(moving.totals.p50Ms).toBeGreaterThan(0);
  expect(moving.totals.p99Ms).toBeGreaterThanOrEqual(moving.totals.p50Ms!);
  const app = moving.routes.find((r) => r.name === 'app')!;
  expect(app.requestsPerSec).toBeGreaterThan(0);
  expect(app.wsActive).toBe(1);
  expect(app.p99Ms).not.toBeNull();
  expect(moving.connections.total).toBe(1);
  expect(moving.connections.connections[0]).toMatchObject({ route: 'app', path: '/ws/room', messagesIn: 5, messagesOut: 5 });

  // A close shows in the closes by code with what it means.
  const id = moving.connections.connections[0]!.id;
  const clientSees = closed(ws);
  expect((await fetch(gw.adminUrl(`/api/connections/${id}`), { method: 'DELETE', headers: AUTH })).status).toBe(202);
  expect((await clientSees).code).toBe(1008);
  const after = await events.next((s) => s.closes.length > 0);
  expect(after.closes).toEqual([{ code: 1008, meaning: expect.stringContaining('operator') as unknown, lastMinute: 1, total: 1 }]);
  expect(after.totals.connections).toBe(0);
  events.abort();
});

test("the stream's connection list follows its filter (route and user exact, path and client prefixes)", async () => {
  const up = await startWsEcho();
  const gw = await startGateway(proxyConfig(up.url, {}, { admin: { listen: '127.0.0.1:0', token: TOKEN } }));
  await openWs(gw.wsUrl('/ws/a'));
  await openWs(gw.wsUrl('/ws/b'));
  const events = await openEvents(gw.adminUrl('/api/events?path=/ws/b&client=127.'));
  const s = await events.next();
  expect(s.connections.total).toBe(2);
  expect(s.connections.connections.map((c) => c.path)).toEqual(['/ws/b']);
  const none = await openEvents(gw.adminUrl('/api/events?route=other'));
  expect((await none.next()).connections.connections).toEqual([]);
  events.abort();
  none.abort();
});

test('closing the gateway ends an open stream cleanly', async () => {
  const up = await startWsEcho();
  const gw = await startGateway(proxyConfig(up.url, {}, { admin: { listen: '127.0.0.1:0', token: TOKEN } }));
  const events = await openEvents(gw.adminUrl('/api/events'));
  await events.next();
  await gw.close();
  await expect(events.ended).resolves.toBeUndefined();
});

test('with workers: 2 the primary streams the merged views: connections of both workers, summed rates', async () => {
  const api = await startHttpUpstream((_req, res) => res.end('ok'));
  const echo = await startWsEcho();
  const text = yamlConfig({
    upstreams: { api: api.url, realtime: echo.url },
    admin: `  token: ${TOKEN}\n`,
    routes: '  - name: ws\n    match: { path: /ws/* }\n    upstream: realtime\n  - name: api\n    match: { path: /* }\n    upstream: api\n',
    extra: 'limits:\n  drainTimeout: 2s\n',
  });
  const cli = startCli(['start', '-c', writeConfig('wsgate.yaml', text), '--workers', '2']);
  const { listeners, admin } = await cli.ports();
  const events = await openEvents(`http://127.0.0.1:${admin}/api/events`);
  await events.next();
  const sockets = [];
  for (let i = 0; i < 6; i++) sockets.push(await openWs(`ws://127.0.0.1:${listeners[0]}/ws/${i}`));
  for (const ws of sockets) await expectEcho(ws, 'ping');
  for (let i = 0; i < 5; i++) expect((await fetch(`http://127.0.0.1:${listeners[0]}/api`)).status).toBe(200);
  const s = await events.next((x) => x.connections.total === 6 && (x.totals.requestsPerSec ?? 0) > 0);
  expect(s.routes.map((r) => r.name)).toEqual(['ws', 'api']);
  expect(s.routes[0]!.wsActive).toBe(6);
  // node:cluster hands connections out round-robin: both workers hold some.
  expect(new Set(s.connections.connections.map((c) => c.worker))).toEqual(new Set([1, 2]));
  expect(s.anomalies).toEqual([]);
  events.abort();
  cli.signal('SIGTERM');
  expect((await cli.exited).code).toBe(0);
}, 30_000);

test('with a shared store, scope=cluster lists a connection another instance holds, with its instance, and closes it from here', async () => {
  const redis = await startRedis();
  const up = await startWsEcho();
  const config = proxyConfig(up.url, {}, { admin: { listen: '127.0.0.1:0', token: TOKEN }, store: { redis: redis.url, timeout: '1s' } });
  const [a, b] = await Promise.all([startGateway(config), startGateway(config)]);
  await Promise.all([a, b].map((g) => g.waitForLog((l) => l.event === 'store_up')));
  const onA = await openWs(a.wsUrl('/ws/on-a'));
  const onB = await openWs(b.wsUrl('/ws/on-b'));

  const local = await openEvents(a.adminUrl('/api/events'));
  const mine = await local.next((s) => s.connections.total === 1);
  expect(mine.sharedStore).toBe(true);
  expect(mine.connections.connections.map((c) => c.path)).toEqual(['/ws/on-a']);
  local.abort();

  const events = await openEvents(a.adminUrl('/api/events?scope=cluster'));
  const s = await events.next((x) => x.connections.connections.some((c) => c.path === '/ws/on-b'));
  const list = s.connections as ClusterConnectionList;
  expect(list).toMatchObject({ scope: 'cluster', total: 2, complete: true });
  expect(list.instances).toHaveLength(2);
  const held = new Map(list.connections.map((c) => [c.path, c.instance]));
  expect(held.get('/ws/on-b')).toBe(list.instances[1]!.instance);
  expect(held.get('/ws/on-a')).toBe(list.instances[0]!.instance);
  // The cards stay this instance's: one live WebSocket here.
  expect(s.totals.connections).toBe(1);

  // The close button's DELETE on A reaches the socket B holds.
  const id = list.connections.find((c) => c.path === '/ws/on-b')!.id;
  const clientSees = closed(onB);
  expect((await fetch(a.adminUrl(`/api/connections/${id}`), { method: 'DELETE', headers: AUTH })).status).toBe(202);
  expect((await clientSees).code).toBe(1008);
  await events.next((x) => x.connections.connections.every((c) => c.path !== '/ws/on-b'));

  // The store gone: the list says it is incomplete and still shows this instance's connection.
  await redis.stop();
  const partial = (await events.next((x) => !(x.connections as ClusterConnectionList).complete)).connections as ClusterConnectionList;
  expect(partial.connections.map((c) => c.path)).toEqual(['/ws/on-a']);
  events.abort();
  onA.close();
  expect((await fetch(a.adminUrl('/api/events?scope=everywhere'), { headers: AUTH })).status).toBe(400);
});
