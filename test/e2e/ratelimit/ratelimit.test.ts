// HTTP rate limits per route (issue 9, item 6): floods of requests and handshakes through real
// sockets; time moves only through the gateway's ManualClock.
import { test, expect } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import type { GatewayConfig } from '../../../src/index.js';
import { startGateway, proxyConfig, type TestGateway } from '../../helpers/gateway.js';
import { errorCodeOf, send, startEchoUpstream, type HttpResult } from '../../helpers/http.js';
import { startWsEcho } from '../../helpers/servers.js';
import { expectEcho, openWs, rawHttp } from '../../helpers/clients.js';
import { handshakeRequest } from '../../helpers/ws.js';
import { SECRET, hsToken, seconds } from '../../helpers/auth.js';

async function limitedLine(gw: TestGateway, route: string): Promise<string | undefined> {
  const text = await (await fetch(gw.adminUrl('/metrics'))).text();
  return text.split('\n').find((l) => l.startsWith(`wsgate_rate_limited_total{route="${route}",kind="http"}`));
}

async function statuses(gw: TestGateway, n: number, path = '/items', headers: Record<string, string> = {}): Promise<HttpResult[]> {
  const out: HttpResult[] = [];
  for (let i = 0; i < n; i++) out.push(await send(gw.url(path), { headers }));
  return out;
}

test('a flood gets 429 RATE_LIMITED with Retry-After and RateLimit-* once the bucket is empty; the upstream never sees it', async () => {
  const clock = new ManualClock();
  const up = await startEchoUpstream();
  const gw = await startGateway(proxyConfig(up.url, { rateLimit: { requests: 3, per: '1s' } }), undefined, { clock });
  const answers = await statuses(gw, 5);
  expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 429, 429]);
  expect(answers.map((r) => r.headers['ratelimit-remaining'])).toEqual(['2', '1', '0', '0', '0']);
  expect(answers[0]!.headers['ratelimit-limit']).toBe('3');
  expect(answers[0]!.headers['ratelimit-reset']).toBe('1');
  const refused = answers[3]!;
  expect(errorCodeOf(refused)).toBe('RATE_LIMITED');
  expect(refused.headers['retry-after']).toBe('1');
  expect(refused.headers['content-type']).toBe('application/json');
  expect(up.requests).toHaveLength(3);
  expect(await limitedLine(gw, 'app')).toBe('wsgate_rate_limited_total{route="app",kind="http"} 2');
  expect(await gw.waitForLog((l) => l.event === 'http_request' && l.status === 429)).toMatchObject({ code: 'RATE_LIMITED', route: 'app' });
  // One token comes back every 333.3 ms.
  clock.advance(300);
  expect((await send(gw.url('/items'))).status).toBe(429);
  clock.advance(40);
  const again = await statuses(gw, 2);
  expect(again.map((r) => r.status)).toEqual([200, 429]);
  expect(up.requests).toHaveLength(4);
});

test('burst sizes the bucket: a burst passes at once, then requests pass at the refill rate', async () => {
  const clock = new ManualClock();
  const up = await startEchoUpstream();
  const gw = await startGateway(proxyConfig(up.url, { rateLimit: { requests: 1, per: '2s', burst: 4 } }), undefined, { clock });
  const burst = await statuses(gw, 5);
  expect(burst.map((r) => r.status)).toEqual([200, 200, 200, 200, 429]);
  expect(burst[0]!.headers['ratelimit-limit']).toBe('4');
  expect(burst[4]!.headers['retry-after']).toBe('2');
  expect(burst[3]!.headers['ratelimit-reset']).toBe('8');
  clock.advance(2000);
  expect((await statuses(gw, 2)).map((r) => r.status)).toEqual([200, 429]);
});

test('key ip follows the trusted X-Forwarded-For: each client address has its own bucket', async () => {
  const clock = new ManualClock();
  const up = await startEchoUpstream();
  const gw = await startGateway(proxyConfig(up.url, { rateLimit: { requests: 1, per: '1m', key: 'ip' } }, { trustedProxies: ['127.0.0.1'] }), undefined, { clock });
  const a = await statuses(gw, 2, '/x', { 'x-forwarded-for': '203.0.113.1' });
  const b = await statuses(gw, 2, '/x', { 'x-forwarded-for': '203.0.113.2' });
  expect([...a, ...b].map((r) => r.status)).toEqual([200, 429, 200, 429]);
  expect(a[1]!.headers['retry-after']).toBe('60');
});

test('key header:NAME gives each value its own bucket; requests without the header share the address bucket', async () => {
  const clock = new ManualClock();
  const up = await startEchoUpstream();
  const gw = await startGateway(proxyConfig(up.url, { rateLimit: { requests: 2, per: '1m', key: 'header:X-Tenant' } }), undefined, { clock });
  const acme = await statuses(gw, 3, '/x', { 'x-tenant': 'acme' });
  const globex = await statuses(gw, 2, '/x', { 'x-tenant': 'globex' });
  const none = await statuses(gw, 3, '/x');
  expect(acme.map((r) => r.status)).toEqual([200, 200, 429]);
  expect(globex.map((r) => r.status)).toEqual([200, 200]);
  expect(none.map((r) => r.status)).toEqual([200, 200, 429]);
});

test('routes have their own buckets, and a route without rateLimit sends no RateLimit headers', async () => {
  const clock = new ManualClock();
  const up = await startEchoUpstream();
  const gw = await startGateway(
    {
      upstreams: { app: { targets: [{ url: up.url }] } },
      routes: [
        { name: 'a', match: { path: '/a/*' }, upstream: 'app', rateLimit: { requests: 1, per: '1m' } },
        { name: 'b', match: { path: '/b/*' }, upstream: 'app', rateLimit: { requests: 1, per: '1m' } },
        { name: 'free', match: { path: '/free/*' }, upstream: 'app' },
      ],
    },
    undefined,
    { clock },
  );
  expect((await statuses(gw, 2, '/a/1')).map((r) => r.status)).toEqual([200, 429]);
  expect((await statuses(gw, 1, '/b/1')).map((r) => r.status)).toEqual([200]);
  const free = await send(gw.url('/free/1'));
  expect(free.status).toBe(200);
  expect(free.headers['ratelimit-limit']).toBeUndefined();
});

test('a 429 on a CORS route carries the CORS headers, so the page can read it', async () => {
  const clock = new ManualClock();
  const up = await startEchoUpstream();
  const origin = 'https://app.example.com';
  const gw = await startGateway(proxyConfig(up.url, { cors: { origins: [origin] }, rateLimit: { requests: 1, per: '1m' } }), undefined, { clock });
  const [, refused] = await statuses(gw, 2, '/x', { origin });
  expect(refused!.status).toBe(429);
  expect(refused!.headers['access-control-allow-origin']).toBe(origin);
  expect(refused!.headers.vary).toBe('Origin');
  // A preflight is answered before the limit and takes no token.
  const pre = await send(gw.url('/x'), { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'PUT' } });
  expect(pre.status).toBe(204);
  expect(pre.headers['ratelimit-limit']).toBeUndefined();
});

test('WebSocket handshakes take from the bucket: over the limit, 429 before any upstream is contacted', async () => {
  const clock = new ManualClock();
  const up = await startWsEcho();
  let upstreamConnections = 0;
  up.server.on('connection', () => upstreamConnections++);
  const gw = await startGateway(proxyConfig(up.url, { rateLimit: { requests: 2, per: '10s' } }), undefined, { clock });
  const first = await rawHttp(gw.port, handshakeRequest(gw.port, '/ws/1'));
  expect(first.status).toBe(101);
  expect(first.headers['ratelimit-remaining']).toBe('1');
  await expectEcho(await openWs(gw.wsUrl('/ws/2')), 'hi');
  const third = await rawHttp(gw.port, handshakeRequest(gw.port, '/ws/3', { Origin: 'https://app.example.com' }));
  expect(third.status).toBe(429);
  expect(errorCodeOf(third)).toBe('RATE_LIMITED');
  expect(third.headers['retry-after']).toBe('5');
  expect(third.headers['ratelimit-remaining']).toBe('0');
  expect(upstreamConnections).toBe(2);
  expect(up.handshakes.map((r) => r.url)).toEqual(['/ws/1', '/ws/2']);
  expect(await limitedLine(gw, 'app')).toBe('wsgate_rate_limited_total{route="app",kind="http"} 1');
});

test('a reload keeps the buckets of an unchanged limit and starts a changed one afresh', async () => {
  const clock = new ManualClock();
  const up = await startEchoUpstream();
  // The listener and admin as startGateway wrote them, so the reload keeps both.
  const config = (requests: number, extraRoute = false): GatewayConfig => ({
    listen: [{ port: 0, host: '127.0.0.1' }],
    admin: { listen: '127.0.0.1:0' },
    upstreams: { app: { targets: [{ url: up.url }] } },
    routes: [
      { name: 'app', match: { path: '/*' }, upstream: 'app', rateLimit: { requests, per: '1m' } },
      ...(extraRoute ? [{ name: 'ping', match: { path: '/ping' }, respond: { status: 200 } }] : []),
    ],
  });
  const gw = await startGateway(config(1), undefined, { clock });
  expect((await statuses(gw, 2, '/x')).map((r) => r.status)).toEqual([200, 429]);
  expect(await gw.gw.applyConfig(config(1, true))).toMatchObject({ ok: true });
  expect((await send(gw.url('/x'))).status).toBe(429);
  expect(await gw.gw.applyConfig(config(2, true))).toMatchObject({ ok: true });
  expect((await statuses(gw, 3, '/x')).map((r) => r.status)).toEqual([200, 200, 429]);
});

test('key: user counts each authenticated user in a bucket of their own, after auth set the identity', async () => {
  const up = await startEchoUpstream();
  const config = proxyConfig(up.url, { auth: { use: 'users' }, rateLimit: { requests: 2, per: '1m', key: 'user' } }, {
    auth: { users: { type: 'jwt', secret: SECRET, algorithms: ['HS256'] } },
  });
  const gw = await startGateway(config);
  const alice = { authorization: `Bearer ${await hsToken({ sub: 'alice', exp: seconds(Date.now()) + 3600 })}` };
  const bob = { authorization: `Bearer ${await hsToken({ sub: 'bob', exp: seconds(Date.now()) + 3600 })}` };
  expect((await statuses(gw, 3, '/items', alice)).map((r) => r.status)).toEqual([200, 200, 429]);
  // Same address, another user: a full bucket of its own.
  expect((await statuses(gw, 2, '/items', bob)).map((r) => r.status)).toEqual([200, 200]);
  // Without a token the request is refused by auth (401) before the limit is consulted.
  expect((await send(gw.url('/items'))).status).toBe(401);
  expect(await limitedLine(gw, 'app')).toBe('wsgate_rate_limited_total{route="app",kind="http"} 1');
  const refused = await gw.waitForLog((l) => l.event === 'http_request' && l.status === 429);
  expect(refused).toMatchObject({ user: 'alice', code: 'RATE_LIMITED' });
});
