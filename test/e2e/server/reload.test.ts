// Config reload (SPEC section 10): an atomic swap. New requests use the new config; established
// WebSockets continue untouched unless their route (or target) is gone, and those get 1012 after
// the drain period. An invalid config changes nothing and is reported.
import { once } from 'node:events';
import { connect, createServer, type AddressInfo } from 'node:net';
import { expect, onTestFinished, test } from 'vitest';
import WebSocket from 'ws';
import type { GatewayConfig } from '../../../src/index.js';
import { startGateway, type TestGateway } from '../../helpers/gateway.js';
import { startHoldingUpstream, startWsEcho } from '../../helpers/servers.js';
import { closed, expectEcho, openWs } from '../../helpers/clients.js';
import { fetchText } from '../../helpers/http.js';

type Route = NonNullable<GatewayConfig['routes']>[number];
type Listen = NonNullable<GatewayConfig['listen']>;

// A whole config, as a file would give it: reloads replace everything, listeners included.
function fullConfig(parts: { upstreams?: GatewayConfig['upstreams']; routes: Route[]; listen?: Listen; drainTimeout?: string }): GatewayConfig {
  return {
    listen: parts.listen ?? [{ port: 0, host: '127.0.0.1' }],
    admin: { listen: '127.0.0.1:0' },
    limits: { drainTimeout: parts.drainTimeout ?? '30s' },
    upstreams: parts.upstreams ?? {},
    routes: parts.routes,
  };
}

function respondRoute(name: string, path: string, body = name): Route {
  return { name, match: { path }, respond: { status: 200, body } };
}

async function postReload(gw: TestGateway): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(gw.adminUrl('/api/reload'), { method: 'POST' });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

test('200 WebSockets exchanging messages all stay open and keep echoing across 5 reloads', async () => {
  const up = await startWsEcho();
  const N = 200;
  const configFor = (n: number): GatewayConfig =>
    fullConfig({
      // Short, so a tunnel a reload wrongly orphaned would be closed while the test still watches.
      drainTimeout: '10ms',
      upstreams: { realtime: { targets: [{ url: up.url }] } },
      routes: [
        // Each reload changes the WebSocket route's request headers (for new handshakes only) and adds a route.
        { name: 'ws', match: { path: '/ws/*' }, upstream: 'realtime', ...(n > 0 ? { headers: { request: { set: { 'x-config': String(n) } } } } : {}) },
        ...Array.from({ length: n }, (_, i) => respondRoute(`added${i + 1}`, `/added/${i + 1}`, `added by reload ${i + 1}`)),
      ],
    });
  const gw = await startGateway(configFor(0));

  interface Peer {
    ws: WebSocket;
    sent: number;
    received: number;
    mark: number;
    closes: number;
    wrong: number;
  }
  let running = true;
  let check: (() => void) | null = null;
  let lastClose = '';
  const peers: Peer[] = await Promise.all(
    Array.from({ length: N }, async (_, i) => {
      const ws = await openWs(gw.wsUrl(`/ws/${i}`));
      const peer: Peer = { ws, sent: 0, received: 0, mark: 0, closes: 0, wrong: 0 };
      ws.on('close', (code: number, reason: Buffer) => {
        peer.closes++;
        lastClose = `peer ${i} closed with ${code} ${reason.toString()}`;
        check?.();
      });
      ws.on('message', (data: Buffer) => {
        if (data.toString() !== `${i}:${peer.received}`) peer.wrong++;
        peer.received++;
        if (running) ws.send(`${i}:${peer.sent++}`);
        check?.();
      });
      return peer;
    }),
  );
  expect(up.connections).toHaveLength(N);

  // Resolves once `done()` holds, checked after every message; rejects as soon as a peer closes.
  const until = (done: () => boolean): Promise<void> =>
    new Promise((resolve, reject) => {
      check = () => {
        if (lastClose !== '') {
          check = null;
          reject(new Error(lastClose));
        } else if (done()) {
          check = null;
          resolve();
        }
      };
      check();
    });
  // Every peer got `k` more echoes since its mark.
  const progress = (k: number): Promise<void> => until(() => peers.every((p) => p.received >= p.mark + k));
  peers.forEach((p, i) => p.ws.send(`${i}:${p.sent++}`));
  await progress(3);

  for (let n = 1; n <= 5; n++) {
    for (const p of peers) p.mark = p.received;
    if (n % 2 === 1) {
      const result = await gw.gw.applyConfig(configFor(n));
      expect(result).toMatchObject({ ok: true, problems: [] });
    } else {
      gw.gw.setReloadSource(() => configFor(n));
      expect(await postReload(gw)).toMatchObject({ status: 200, body: { status: 'reloaded' } });
    }
    // The swap happened: the route it added answers...
    expect(await fetchText(gw.url(`/added/${n}`))).toEqual({ status: 200, body: `added by reload ${n}` });
    // ...and every one of the 200 keeps exchanging messages after it.
    await progress(3);
  }

  running = false;
  await until(() => peers.every((p) => p.received === p.sent));
  for (const p of peers) {
    expect(p.ws.readyState).toBe(WebSocket.OPEN);
    expect(p.closes).toBe(0);
    expect(p.wrong).toBe(0);
  }
  await Promise.all(peers.map((p, i) => expectEcho(p.ws, `final ${i}`)));
  for (const c of up.connections) expect(c.readyState).toBe(WebSocket.OPEN);
  const loaded = gw.logs.filter((l) => l.event === 'config_loaded' && l.trigger === 'reload');
  expect(loaded).toHaveLength(5);
  for (const l of loaded) expect(l).toMatchObject({ orphanedWebSockets: 0 });
  expect(gw.logs.filter((l) => l.event === 'ws_close')).toEqual([]);
  const { total } = (await (await fetch(gw.adminUrl('/api/connections?limit=1'))).json()) as { total: number };
  expect(total).toBe(N);

  // A new handshake uses the newest route headers; the old ones kept what they were opened with.
  await openWs(gw.wsUrl('/ws/new'));
  expect(up.handshakes.at(-1)!.headers['x-config']).toBe('5');
  expect(up.handshakes[0]!.headers['x-config']).toBeUndefined();
});

test('a route added by a reload answers, and a removed route answers 404 to new requests', async () => {
  const gw = await startGateway(fullConfig({ routes: [respondRoute('old', '/old'), respondRoute('kept', '/kept')] }));
  expect(await fetchText(gw.url('/old'))).toEqual({ status: 200, body: 'old' });
  expect((await fetchText(gw.url('/new'))).status).toBe(404);

  const result = await gw.gw.applyConfig(fullConfig({ routes: [respondRoute('kept', '/kept'), respondRoute('new', '/new')] }));
  expect(result.ok).toBe(true);

  expect(await fetchText(gw.url('/new'))).toEqual({ status: 200, body: 'new' });
  expect(await fetchText(gw.url('/kept'))).toEqual({ status: 200, body: 'kept' });
  const gone = await fetch(gw.url('/old'));
  expect(gone.status).toBe(404);
  expect(((await gone.json()) as { error: { code: string } }).error.code).toBe('ROUTE_NOT_FOUND');
  // The admin views follow the new config.
  const routes = (await (await fetch(gw.adminUrl('/api/routes'))).json()) as { name: string }[];
  expect(routes.map((r) => r.name)).toEqual(['kept', 'new']);
  const running = (await (await fetch(gw.adminUrl('/api/config'))).json()) as { routes: { name: string }[] };
  expect(running.routes.map((r) => r.name)).toEqual(['kept', 'new']);
  expect(await gw.waitForLog((l) => l.event === 'config_loaded' && l.trigger === 'reload')).toMatchObject({ level: 'info', routes: 2, upstreams: 0, orphanedWebSockets: 0 });
});

test('an HTTP request in flight on a route a reload removes still completes', async () => {
  const api = await startHoldingUpstream();
  const gw = await startGateway(fullConfig({ upstreams: { api: { targets: [{ url: api.url }] } }, routes: [{ name: 'api', match: { path: '/api/*' }, upstream: 'api' }] }));
  const slow = fetchText(gw.url('/api/slow'));
  const held = await api.held;

  expect((await gw.gw.applyConfig(fullConfig({ routes: [respondRoute('other', '/other')] }))).ok).toBe(true);
  expect((await fetchText(gw.url('/api/slow'))).status).toBe(404);
  held.end('answered after the reload');
  expect(await slow).toEqual({ status: 200, body: 'answered after the reload' });
});

test('a WebSocket on a route removed by a reload gets 1012 after limits.drainTimeout; one on a kept route stays open', async () => {
  const up = await startWsEcho();
  const upstreams = { realtime: { targets: [{ url: up.url }] } };
  const chat: Route = { name: 'chat', match: { path: '/chat/*' }, upstream: 'realtime' };
  const feed: Route = { name: 'feed', match: { path: '/feed/*' }, upstream: 'realtime' };
  const gw = await startGateway(fullConfig({ upstreams, routes: [chat, feed], drainTimeout: '200ms' }));
  const doomed = await openWs(gw.wsUrl('/feed/1'));
  const kept = await openWs(gw.wsUrl('/chat/1'));
  let keptCloses = 0;
  kept.on('close', () => keptCloses++);
  const doomedClosed = closed(doomed);
  const upstreamDoomed = once(up.connections[0]!, 'close') as Promise<[number, Buffer]>;

  const reloadedAt = performance.now();
  const result = await gw.gw.applyConfig(fullConfig({ upstreams, routes: [chat], drainTimeout: '200ms' }));
  expect(result).toMatchObject({ ok: true });
  expect(result.message).toContain('1 WebSockets will get 1012 after 200 ms');
  // Until the drain period is over it still relays; new handshakes on the route are refused.
  expect(doomed.readyState).toBe(WebSocket.OPEN);
  await expect(openWs(gw.wsUrl('/feed/2'))).rejects.toThrow('unexpected response 404');

  expect(await doomedClosed).toEqual({ code: 1012, reason: 'route changed by a config reload' });
  // The timer may fire a millisecond early; it never fires at once.
  expect(performance.now() - reloadedAt).toBeGreaterThanOrEqual(150);
  expect((await upstreamDoomed)[0]).toBe(1012);
  expect(await gw.waitForLog((l) => l.event === 'ws_close')).toMatchObject({ route: 'feed', code: 1012, initiator: 'gateway', error: 'WS_ROUTE_REMOVED' });
  expect(await gw.waitForLog((l) => l.event === 'config_loaded' && l.trigger === 'reload')).toMatchObject({ orphanedWebSockets: 1 });

  await expectEcho(kept, 'the kept route still relays');
  expect(kept.readyState).toBe(WebSocket.OPEN);
  expect(keptCloses).toBe(0);
  expect(gw.logs.filter((l) => l.event === 'ws_close')).toHaveLength(1);
});

test('a WebSocket whose route a later reload restores within the drain period stays open', async () => {
  const up = await startWsEcho();
  const upstreams = { realtime: { targets: [{ url: up.url }] } };
  const chat: Route = { name: 'chat', match: { path: '/chat/*' }, upstream: 'realtime' };
  const feed: Route = { name: 'feed', match: { path: '/feed/*' }, upstream: 'realtime' };
  const gw = await startGateway(fullConfig({ upstreams, routes: [chat, feed], drainTimeout: '200ms' }));
  const restored = await openWs(gw.wsUrl('/feed/1'));
  const removed = await openWs(gw.wsUrl('/chat/1'));
  let restoredCloses = 0;
  restored.on('close', () => restoredCloses++);
  const removedClosed = closed(removed);

  // Both routes go; then feed comes back before the drain period is over.
  expect((await gw.gw.applyConfig(fullConfig({ upstreams, routes: [], drainTimeout: '200ms' }))).message).toContain('2 WebSockets will get 1012');
  expect((await gw.gw.applyConfig(fullConfig({ upstreams, routes: [feed], drainTimeout: '200ms' }))).message).toContain('1 WebSockets will get 1012');

  expect(await removedClosed).toEqual({ code: 1012, reason: 'route changed by a config reload' });
  // The first reload's timer has fired: a close frame for `restored` would arrive before this echo.
  await expectEcho(restored, 'route restored in time');
  expect(restoredCloses).toBe(0);
  expect(gw.logs.filter((l) => l.event === 'ws_close').map((l) => l.route)).toEqual(['chat']);
});

test('a WebSocket whose target left its upstream gets 1012; new WebSockets go to the new target', async () => {
  const oldUp = await startWsEcho();
  const newUp = await startWsEcho();
  const route: Route = { name: 'ws', match: { path: '/ws/*' }, upstream: 'realtime' };
  const gw = await startGateway(fullConfig({ upstreams: { realtime: { targets: [{ url: oldUp.url }] } }, routes: [route], drainTimeout: '200ms' }));
  const ws = await openWs(gw.wsUrl('/ws/1'));
  await expectEcho(ws, 'on the old target');
  const wsClosed = closed(ws);

  const result = await gw.gw.applyConfig(fullConfig({ upstreams: { realtime: { targets: [{ url: newUp.url }] } }, routes: [route], drainTimeout: '200ms' }));
  expect(result.ok).toBe(true);
  const fresh = await openWs(gw.wsUrl('/ws/2'));
  expect(newUp.connections).toHaveLength(1);
  expect(await wsClosed).toEqual({ code: 1012, reason: 'route changed by a config reload' });
  await expectEcho(fresh, 'on the new target');
  expect(fresh.readyState).toBe(WebSocket.OPEN);
  expect(oldUp.connections).toHaveLength(1);
});

test('an invalid config changes nothing: applyConfig returns its problems, logs config_rejected, and the old routes still work', async () => {
  const up = await startWsEcho();
  const upstreams = { realtime: { targets: [{ url: up.url }] } };
  const gw = await startGateway(fullConfig({ upstreams, routes: [{ name: 'ws', match: { path: '/ws/*' }, upstream: 'realtime' }, respondRoute('hello', '/hello')] }));
  const ws = await openWs(gw.wsUrl('/ws/1'));

  const bad = fullConfig({ upstreams, routes: [{ name: 'ws', match: { path: '/ws/*' }, upstream: 'realtim' }, respondRoute('new', '/new')] });
  const result = await gw.gw.applyConfig(bad);
  expect(result.ok).toBe(false);
  expect(result.problems).toEqual([{ path: 'routes[0].upstream', message: expect.stringContaining('unknown upstream "realtim"') as unknown }]);
  expect(result.message).toContain('the running config is unchanged');
  expect(await gw.waitForLog((l) => l.event === 'config_rejected')).toMatchObject({ level: 'warn', problems: result.problems });
  expect(gw.logs.some((l) => l.event === 'config_loaded' && l.trigger === 'reload')).toBe(false);

  expect(await fetchText(gw.url('/hello'))).toEqual({ status: 200, body: 'hello' });
  expect((await fetchText(gw.url('/new'))).status).toBe(404);
  await expectEcho(ws, 'untouched');
  expect(await gw.gw.applyConfig({ routes: 'not a list' })).toMatchObject({ ok: false, problems: [{ path: 'routes' }] });
});

test('a reload that changes metrics or store applies the rest and notes that those two need a restart; metrics keep counting', async () => {
  const gw = await startGateway(fullConfig({ routes: [respondRoute('hello', '/hello')] }));
  const changed = { ...fullConfig({ routes: [respondRoute('hello', '/hello'), respondRoute('new', '/new')] }), metrics: { enabled: false }, store: { redis: 'redis://127.0.0.1:1' } };
  const result = await gw.gw.applyConfig(changed);
  expect(result.ok).toBe(true);
  expect(result.message).toContain('metrics changes need a restart; store changes need a restart');
  expect(await gw.waitForLog((l) => l.event === 'config_loaded' && l.trigger === 'reload')).toMatchObject({ notes: ['metrics changes need a restart', 'store changes need a restart'] });
  expect(await fetchText(gw.url('/new'))).toEqual({ status: 200, body: 'new' });
  // metrics.enabled is read at start: the running registry still counts what the new route answered.
  expect((await fetchText(gw.adminUrl('/metrics'))).body).toContain('wsgate_http_requests_total{route="new",method="GET",status="200"} 1');
  // The same config again: nothing to note.
  expect((await gw.gw.applyConfig(changed)).message).not.toContain('need a restart');
});

test('POST /api/reload applies the reload source, and answers 400 CONFIG_REJECTED with the problems for an invalid one', async () => {
  const gw = await startGateway(fullConfig({ routes: [respondRoute('one', '/one')] }));
  let next: unknown = fullConfig({ routes: [respondRoute('one', '/one'), respondRoute('two', '/two')] });
  gw.gw.setReloadSource(() => next);

  const ok = await postReload(gw);
  expect(ok.status).toBe(200);
  expect(ok.body).toEqual({ status: 'reloaded', message: expect.stringContaining('2 routes') as unknown });
  expect(await fetchText(gw.url('/two'))).toEqual({ status: 200, body: 'two' });
  expect(await gw.waitForLog((l) => l.event === 'config_loaded' && l.trigger === 'reload')).toMatchObject({ routes: 2 });

  next = { ...fullConfig({ routes: [respondRoute('three', '/three')] }), limits: { drainTimeout: 'soon' }, bogus: true };
  const rejected = await postReload(gw);
  expect(rejected.status).toBe(400);
  const error = rejected.body.error as { code: string; message: string; problems: { path: string; message: string }[] };
  expect(error.code).toBe('CONFIG_REJECTED');
  expect(error.problems).toEqual(
    expect.arrayContaining([
      { path: 'limits.drainTimeout', message: expect.stringContaining('invalid duration') as unknown },
      { path: 'bogus', message: expect.stringContaining('unknown key') as unknown },
    ]),
  );
  for (const p of error.problems) expect(Object.keys(p).sort()).toEqual(['message', 'path']);
  expect(await gw.waitForLog((l) => l.event === 'config_rejected')).toMatchObject({ level: 'warn' });
  expect((await fetchText(gw.url('/three'))).status).toBe(404);
  expect(await fetchText(gw.url('/two'))).toEqual({ status: 200, body: 'two' });
});

test('POST /api/reload reports a reload source that fails (a config file that cannot be read) and keeps the config', async () => {
  const gw = await startGateway(fullConfig({ routes: [respondRoute('one', '/one')] }));
  gw.gw.setReloadSource(() => {
    throw Object.assign(new Error('wsgate.yaml: 1 problem(s); the running config is unchanged'), { problems: [{ path: 'routes[0].name', message: 'is required' }] });
  });
  const res = await postReload(gw);
  expect(res.status).toBe(400);
  expect(res.body.error).toEqual({ code: 'CONFIG_REJECTED', message: 'wsgate.yaml: 1 problem(s); the running config is unchanged', problems: [{ path: 'routes[0].name', message: 'is required' }] });
  expect(await gw.waitForLog((l) => l.event === 'config_rejected')).toMatchObject({ problems: [{ path: 'routes[0].name' }] });
  expect(await fetchText(gw.url('/one'))).toEqual({ status: 200, body: 'one' });
});

test('a reload that adds a listener serves on its new port; a reload that removes it stops accepting there', async () => {
  const gw = await startGateway(fullConfig({ routes: [respondRoute('hello', '/hello')] }));
  expect(gw.gw.addresses()).toHaveLength(1);
  const two: Listen = [
    { port: 0, host: '127.0.0.1' },
    { port: 0, host: '127.0.0.1' },
  ];
  expect((await gw.gw.applyConfig(fullConfig({ listen: two, routes: [respondRoute('hello', '/hello')] }))).ok).toBe(true);
  const addresses = gw.gw.addresses();
  expect(addresses).toHaveLength(2);
  expect(addresses[0]!.port).toBe(gw.port);
  const added = addresses[1]!.port;
  expect(added).not.toBe(gw.port);
  expect(await fetchText(`http://127.0.0.1:${added}/hello`)).toEqual({ status: 200, body: 'hello' });

  // Back to one listener: the added port refuses new connections, the first one still serves.
  expect((await gw.gw.applyConfig(fullConfig({ routes: [respondRoute('hello', '/hello')] }))).ok).toBe(true);
  expect(gw.gw.addresses()).toEqual([{ host: '127.0.0.1', port: gw.port }]);
  const refused = connect(added, '127.0.0.1');
  const [err] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
  expect(err.code).toBe('ECONNREFUSED');
  expect(await fetchText(gw.url('/hello'))).toEqual({ status: 200, body: 'hello' });
});

test('a reload whose new listener cannot bind is rejected as a whole and changes nothing', async () => {
  const blocker = createServer();
  blocker.listen(0, '127.0.0.1');
  await once(blocker, 'listening');
  onTestFinished(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
  const busy = (blocker.address() as AddressInfo).port;

  const gw = await startGateway(fullConfig({ routes: [respondRoute('hello', '/hello')] }));
  const result = await gw.gw.applyConfig(
    fullConfig({
      listen: [
        { port: 0, host: '127.0.0.1' },
        { port: busy, host: '127.0.0.1' },
      ],
      routes: [respondRoute('hello', '/hello'), respondRoute('new', '/new')],
    }),
  );
  expect(result.ok).toBe(false);
  expect(result.message).toMatch(/EADDRINUSE|in use/);
  expect(await gw.waitForLog((l) => l.event === 'config_rejected')).toMatchObject({ level: 'warn' });
  expect(gw.gw.addresses()).toEqual([{ host: '127.0.0.1', port: gw.port }]);
  expect((await fetchText(gw.url('/new'))).status).toBe(404);
  expect(await fetchText(gw.url('/hello'))).toEqual({ status: 200, body: 'hello' });
});
