// Target health end to end: active checks move traffic from a failing primary to its backup and
// back, with upstream_health lines and wsgate_upstream_healthy following; onUnhealthy: close ends
// the failing target's WebSockets with 1012. Time moves only through the gateway's ManualClock.
import { expect, test } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import { closed, expectEcho, openWs, rawHttp } from '../../helpers/clients.js';
import { startGateway } from '../../helpers/gateway.js';
import { errorCodeOf } from '../../helpers/http.js';
import { startHttpUpstream, startWsEcho } from '../../helpers/servers.js';
import { handshakeRequest } from '../../helpers/ws.js';

const STEP_MS = 100;       // one client request per 100 ms of gateway time
const INTERVAL_MS = 1000;
const TICK_MS = 1000;      // the gateway clock's tick with default WebSocket timers
const UNHEALTHY_AFTER = 3;

test('a primary failing its checks hands traffic to the backup after unhealthyAfter checks and takes it back after healthyAfter', async () => {
  let sick = false;
  const primary = await startHttpUpstream((_req, res) => res.writeHead(sick ? 503 : 200).end(sick ? 'primary sick' : 'primary'));
  const backup = await startHttpUpstream((_req, res) => res.end('backup'));
  const clock = new ManualClock();
  const gw = await startGateway(
    {
      upstreams: {
        app: {
          targets: [{ url: primary.url }, { url: backup.url, backup: true }],
          healthCheck: { path: '/healthz', interval: '1s', timeout: '500ms', unhealthyAfter: UNHEALTHY_AFTER, healthyAfter: 2 },
        },
      },
      routes: [{ name: 'app', match: { path: '/*' }, upstream: 'app' }],
    },
    undefined,
    { clock },
  );
  let now = 0;
  // One step: the clock moves on, then one client request; its status and who answered.
  const step = async (): Promise<{ status: number; body: string }> => {
    clock.advance(STEP_MS);
    now += STEP_MS;
    const res = await fetch(gw.url('/work'));
    return { status: res.status, body: await res.text() };
  };
  const metricsText = async (): Promise<string> => (await fetch(gw.adminUrl('/metrics'))).text();

  // Healthy: the checks at 1 s and 2 s pass, every request goes to the primary. It falls sick
  // between two ticks (at 2.5 s), not while a check is in flight.
  for (let i = 0; i < 25; i++) expect(await step()).toEqual({ status: 200, body: 'primary' });

  // The primary answers 503 to everything, its checks included.
  sick = true;
  const sickAt = now;
  let failed = 0;
  let answer = await step();
  while (answer.body !== 'backup' && now - sickAt < 10_000) {
    expect(answer).toEqual({ status: 503, body: 'primary sick' });
    failed++;
    answer = await step();
  }
  const failoverMs = now - sickAt;
  expect(answer).toEqual({ status: 200, body: 'backup' });
  // Checks run on clock ticks, one per tick at most: the third failed check comes two ticks after
  // the first at the earliest; the documented bound (upstream/health.ts) is unhealthyAfter ×
  // (interval × 1.1 + tick).
  expect(failoverMs).toBeGreaterThanOrEqual((UNHEALTHY_AFTER - 1) * TICK_MS);
  expect(failoverMs).toBeLessThanOrEqual(UNHEALTHY_AFTER * (INTERVAL_MS * 1.1 + TICK_MS) + STEP_MS);
  // The requests that failed: those sent in that window, each answered 503 by the sick primary.
  expect(failed).toBeLessThanOrEqual((UNHEALTHY_AFTER * (INTERVAL_MS * 1.1 + TICK_MS)) / STEP_MS);
  expect(gw.logs.filter((l) => l.event === 'upstream_health')).toEqual([
    expect.objectContaining({ upstream: 'app', target: primary.url, healthy: false, reason: 'status 503', source: 'active', previous: { healthy: true, reason: 'ok' } }),
    expect.objectContaining({ upstream: 'app', failover: 'backup', healthyBackups: 1 }),
  ]);
  let metrics = await metricsText();
  expect(metrics).toContain(`wsgate_upstream_healthy{upstream="app",target="${primary.url}"} 0`);
  expect(metrics).toContain(`wsgate_upstream_healthy{upstream="app",target="${backup.url}"} 1`);
  const view = (await (await fetch(gw.adminUrl('/api/upstreams'))).json()) as { targets: Record<string, unknown>[] }[];
  expect(view[0]!.targets[0]).toMatchObject({ url: primary.url, healthy: false, healthReason: 'status 503', lastCheck: { result: 'status 503' }, ejectedUntil: null });

  // The primary recovers: the backup serves until two checks have passed, no request fails.
  sick = false;
  const recoveredAt = now;
  let failedInRecovery = 0;
  answer = await step();
  while (answer.body !== 'primary' && now - recoveredAt < 10_000) {
    if (answer.status !== 200) failedInRecovery++;
    answer = await step();
  }
  expect(answer).toEqual({ status: 200, body: 'primary' });
  expect(failedInRecovery).toBe(0);
  expect(now - recoveredAt).toBeLessThanOrEqual(2 * (INTERVAL_MS * 1.1 + TICK_MS) + STEP_MS);
  expect(gw.logs.filter((l) => l.event === 'upstream_health').slice(2)).toEqual([
    expect.objectContaining({ target: primary.url, healthy: true, reason: 'ok', previous: { healthy: false, reason: 'status 503' } }),
    expect.objectContaining({ failover: 'primary' }),
  ]);
  metrics = await metricsText();
  expect(metrics).toContain(`wsgate_upstream_healthy{upstream="app",target="${primary.url}"} 1`);
});

test('onUnhealthy: close ends the WebSockets of a target that turns unhealthy with 1012, spread over closeSpread', async () => {
  const echo = await startWsEcho(); // answers plain HTTP with 426, so its health checks fail
  const clock = new ManualClock();
  const gw = await startGateway(
    {
      upstreams: { chat: { targets: [{ url: echo.url }], healthCheck: { path: '/healthz', interval: '1s', unhealthyAfter: 1 }, onUnhealthy: 'close', closeSpread: '2s' } },
      routes: [{ name: 'chat', match: { path: '/ws/*' }, upstream: 'chat' }],
    },
    undefined,
    { clock },
  );
  const first = await openWs(gw.wsUrl('/ws/a'));
  const second = await openWs(gw.wsUrl('/ws/b'));
  const firstClosed = closed(first);
  const secondClosed = closed(second);

  clock.advance(1000); // the first check: 426, down at once; the first tunnel closes now
  expect(await firstClosed).toEqual({ code: 1012, reason: 'upstream target unhealthy' });
  await expectEcho(second, 'still open'); // the second waits its turn: half of closeSpread later
  clock.advance(1000);
  expect(await secondClosed).toEqual({ code: 1012, reason: 'upstream target unhealthy' });
  expect(gw.logs.find((l) => l.event === 'upstream_health')).toMatchObject({ upstream: 'chat', target: echo.url, healthy: false, reason: 'status 426' });
  await gw.waitForLog((l) => l.event === 'ws_close' && gw.logs.filter((x) => x.event === 'ws_close').length === 2);
  expect(gw.logs.filter((l) => l.event === 'ws_close').map((l) => [l.code, l.initiator, l.error])).toEqual([
    [1012, 'gateway', 'WS_TARGET_UNHEALTHY'],
    [1012, 'gateway', 'WS_TARGET_UNHEALTHY'],
  ]);
});

test('maxConnectionsPerTarget: a full target takes no more WebSockets; when every target is full the handshake gets 503 with Retry-After', async () => {
  const a = await startWsEcho();
  const b = await startWsEcho();
  const gw = await startGateway({
    upstreams: { chat: { targets: [{ url: a.url }, { url: b.url }], maxConnectionsPerTarget: 1 } },
    routes: [{ name: 'chat', match: { path: '/ws/*' }, upstream: 'chat' }],
  });
  await openWs(gw.wsUrl('/ws/1'));
  await openWs(gw.wsUrl('/ws/2'));
  expect([a.connections.length, b.connections.length]).toEqual([1, 1]); // one each: neither took two
  const refused = await rawHttp(gw.port, handshakeRequest(gw.port, '/ws/3'), { untilClose: true });
  expect(refused.status).toBe(503);
  expect(errorCodeOf(refused)).toBe('NO_HEALTHY_TARGET');
  expect(refused.raw).toMatch(/\r\nretry-after: 1\r\n/i);
});

test('passive health: a target answering 5xx is ejected after consecutiveFailures exchanges and comes back after ejectFor', async () => {
  const bad = await startHttpUpstream((_req, res) => res.writeHead(502).end('bad'));
  const good = await startHttpUpstream((_req, res) => res.end('good'));
  const clock = new ManualClock();
  const gw = await startGateway(
    {
      upstreams: { app: { targets: [{ url: bad.url }, { url: good.url }], passive: { consecutiveFailures: 2, ejectFor: '5s' } } },
      routes: [{ name: 'app', match: { path: '/*' }, upstream: 'app' }],
    },
    undefined,
    { clock },
  );
  const bodies = async (n: number): Promise<string[]> => {
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(await (await fetch(gw.url('/'))).text());
    return out;
  };
  // Round robin: bad, good, bad (the second failure in a row ejects it), then only good.
  expect(await bodies(6)).toEqual(['bad', 'good', 'bad', 'good', 'good', 'good']);
  expect(gw.logs.find((l) => l.event === 'upstream_health')).toMatchObject({ target: bad.url, healthy: false, source: 'passive', reason: 'ejected: 2 consecutive failures (last: status 502)' });
  const view = (await (await fetch(gw.adminUrl('/api/upstreams'))).json()) as { targets: Record<string, unknown>[] }[];
  expect(view[0]!.targets[0]).toMatchObject({ healthy: false, ejectedUntil: new Date(5000).toISOString() });

  clock.advance(5000);
  expect(await bodies(2)).toContain('bad');
});
