// GET /metrics through a real gateway and real upstreams (SPEC sections 6 and 7).
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import WebSocket from 'ws';
import { expect, onTestFinished, test } from 'vitest';
import { startGateway, proxyConfig, type TestGateway } from '../../helpers/gateway.js';
import { startHttpUpstream, startRawUpstream, startWsEcho } from '../../helpers/servers.js';
import { ManualClock } from '../../../src/core/clock.js';
import { closed, nextMessage, openWs } from '../../helpers/clients.js';
import { closedPort, send } from '../../helpers/http.js';

async function scrape(gw: TestGateway, token?: string): Promise<string> {
  const res = await fetch(gw.adminUrl('/metrics'), token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.text();
}

// The value of one series, or undefined when it is not exported.
function valueOf(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

// Every sample of a scrape, by series (name and labels as written), parsed line by line.
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    out.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return out;
}

// Tunnel counts reach the metrics on the gateway's clock tick: scrape until the series shows.
async function scrapeUntil(gw: TestGateway, series: string, atLeast: number): Promise<string> {
  for (;;) {
    const text = await scrape(gw);
    if ((valueOf(text, series) ?? 0) >= atLeast) return text;
    await delay(50);
  }
}

test('HTTP exchanges are counted by route, method and status, with their duration; unmatched ones under route "unmatched"', async () => {
  const up = await startHttpUpstream((_req, res) => res.end('ok'));
  const gw = await startGateway(proxyConfig(up.url, { match: { path: '/api/*' } }));
  for (let i = 0; i < 3; i++) expect((await send(gw.url('/api/x'))).status).toBe(200);
  expect((await send(gw.url('/nowhere'))).status).toBe(404);
  const text = await scrape(gw);
  expect(valueOf(text, 'wsgate_http_requests_total{route="app",method="GET",status="200"}')).toBe(3);
  expect(valueOf(text, 'wsgate_http_request_duration_seconds_count{route="app"}')).toBe(3);
  expect(valueOf(text, 'wsgate_http_request_duration_seconds_bucket{le="30",route="app"}')).toBe(3);
  expect(valueOf(text, 'wsgate_http_requests_total{route="unmatched",method="GET",status="404"}')).toBe(1);
  expect(text).not.toContain('route=""');
  expect(valueOf(text, 'wsgate_upstream_healthy{upstream="app",target="' + up.url + '"}')).toBe(1);
  // No process defaults unless asked for (the CLI asks): tests run many gateways in one process.
  expect(text).not.toContain('process_cpu_user_seconds_total');
});

test('a WebSocket is counted while open (active, upstream connections, traffic on the tick) and at close (code, initiator, duration)', async () => {
  const up = await startWsEcho();
  const gw = await startGateway(proxyConfig(up.url));
  const ws = await openWs(gw.wsUrl('/chat'));
  ws.send('hello');
  await nextMessage(ws);

  const open = await scrapeUntil(gw, 'wsgate_ws_messages_total{route="app",direction="upstream_to_client"}', 1);
  expect(valueOf(open, 'wsgate_ws_connections_active{route="app"}')).toBe(1);
  expect(valueOf(open, 'wsgate_ws_connections_total{route="app",outcome="opened"}')).toBe(1);
  expect(valueOf(open, `wsgate_upstream_active_connections{upstream="app",target="${up.url}"}`)).toBe(1);
  expect(valueOf(open, 'wsgate_ws_messages_total{route="app",direction="client_to_upstream"}')).toBe(1);

  ws.send('second');
  await nextMessage(ws);
  const done = closed(ws);
  ws.close(4001, 'bye');
  await done;
  await gw.waitForLog((l) => l.event === 'ws_close');
  const text = await scrape(gw);
  expect(valueOf(text, 'wsgate_ws_connections_active{route="app"}')).toBe(0);
  expect(valueOf(text, `wsgate_upstream_active_connections{upstream="app",target="${up.url}"}`)).toBe(0);
  // Counted once each: the tick's delta and the final one add up to the totals.
  expect(valueOf(text, 'wsgate_ws_messages_total{route="app",direction="client_to_upstream"}')).toBe(2);
  expect(valueOf(text, 'wsgate_ws_messages_total{route="app",direction="upstream_to_client"}')).toBe(2);
  // Masked client frames: 2 + 4 + 5 ("hello"), 2 + 4 + 6 ("second"), and the close frame 2 + 4 + 5.
  expect(valueOf(text, 'wsgate_ws_bytes_total{route="app",direction="client_to_upstream"}')).toBe(11 + 12 + 11);
  expect(valueOf(text, 'wsgate_ws_bytes_total{route="app",direction="upstream_to_client"}')).toBeGreaterThanOrEqual(2 + 5 + 2 + 6);
  expect(valueOf(text, 'wsgate_ws_closes_total{route="app",code="4001",initiator="client"}')).toBe(1);
  expect(valueOf(text, 'wsgate_ws_connection_duration_seconds_count{route="app"}')).toBe(1);
});

test('maxPerClient refusals count as rate_limited ws_connections and as rejected handshakes', async () => {
  const up = await startWsEcho();
  const gw = await startGateway(proxyConfig(up.url, { websocket: { maxPerClient: 1 } }));
  await openWs(gw.wsUrl('/a'));
  const second = new WebSocket(gw.wsUrl('/b'));
  onTestFinished(() => second.terminate());
  const status = await new Promise<number>((resolve) => second.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
  second.on('error', () => undefined);
  expect(status).toBe(429);
  const text = await scrape(gw);
  expect(valueOf(text, 'wsgate_rate_limited_total{route="app",kind="ws_connections"}')).toBe(1);
  expect(valueOf(text, 'wsgate_ws_connections_total{route="app",outcome="rejected"}')).toBe(1);
  expect(valueOf(text, 'wsgate_ws_connections_total{route="app",outcome="opened"}')).toBe(1);
});

test('GET /metrics needs the admin token when one is set', async () => {
  const up = await startHttpUpstream((_req, res) => res.end('ok'));
  const gw = await startGateway(proxyConfig(up.url, {}, { admin: { listen: '127.0.0.1:0', token: 's3cret' } }));
  const res = await fetch(gw.adminUrl('/metrics'));
  expect(res.status).toBe(401);
  expect(((await res.json()) as { error: { code: string } }).error.code).toBe('UNAUTHORIZED');
  expect(await scrape(gw, 's3cret')).toContain('# TYPE wsgate_http_requests_total counter');
});

test('a scrape right after traffic counts all of it exactly: tunnels, routes, unmatched requests, targets and their errors, build info', async () => {
  const api = await startHttpUpstream((_req, res) => res.end('ok'));
  const echo = await startWsEcho();
  const dead = `http://127.0.0.1:${await closedPort()}`;
  const gw = await startGateway({
    upstreams: { api: { targets: [{ url: api.url }] }, chat: { targets: [{ url: echo.url }] }, dead: { targets: [{ url: dead }] } },
    routes: [
      { name: 'api', match: { path: '/api/*' }, upstream: 'api' },
      { name: 'chat', match: { path: '/chat' }, upstream: 'chat' },
      { name: 'dead', match: { path: '/dead/*' }, upstream: 'dead' },
    ],
  });
  // Present at 0 before any traffic: every route a WebSocket can reach.
  const before = samples(await scrape(gw));
  expect(before.get('wsgate_ws_connections_active{route="chat"}')).toBe(0);
  expect(before.get('wsgate_ws_connections_active{route="api"}')).toBe(0);

  const ws = await openWs(gw.wsUrl('/chat'));
  for (let i = 0; i < 5; i++) {
    ws.send(`m${i}`);
    await nextMessage(ws);
  }
  for (let i = 0; i < 3; i++) expect((await send(gw.url('/api/x'))).status).toBe(200);
  expect((await send(gw.url('/nowhere'))).status).toBe(404);
  expect((await send(gw.url('/dead/x'))).status).toBe(502);

  // No waiting for the clock tick: the live tunnel's counts are read at scrape time.
  const m = samples(await scrape(gw));
  expect(m.get('wsgate_ws_messages_total{route="chat",direction="client_to_upstream"}')).toBe(5);
  expect(m.get('wsgate_ws_messages_total{route="chat",direction="upstream_to_client"}')).toBe(5);
  // Masked client frames of 2-byte texts: 2 + 4 + 2 each; the echo's unmasked: 2 + 2.
  expect(m.get('wsgate_ws_bytes_total{route="chat",direction="client_to_upstream"}')).toBe(5 * 8);
  expect(m.get('wsgate_ws_bytes_total{route="chat",direction="upstream_to_client"}')).toBe(5 * 4);
  expect(m.get('wsgate_ws_connections_active{route="chat"}')).toBe(1);
  expect(m.get('wsgate_ws_connections_total{route="chat",outcome="opened"}')).toBe(1);
  expect(m.get('wsgate_http_requests_total{route="api",method="GET",status="200"}')).toBe(3);
  expect(m.get('wsgate_http_requests_total{route="unmatched",method="GET",status="404"}')).toBe(1);
  expect(m.get('wsgate_http_requests_total{route="dead",method="GET",status="502"}')).toBe(1);
  expect([...m.keys()].filter((k) => k.includes('route=""'))).toEqual([]);
  // Per target: answers by status class, time to the response head, errors by kind, open work.
  expect(m.get(`wsgate_upstream_requests_total{upstream="api",target="${api.url}",status_class="2xx"}`)).toBe(3);
  expect(m.get(`wsgate_upstream_request_duration_seconds_count{upstream="api",target="${api.url}"}`)).toBe(3);
  expect(m.get(`wsgate_upstream_request_duration_seconds_bucket{le="+Inf",upstream="api",target="${api.url}"}`)).toBe(3);
  expect(m.get(`wsgate_upstream_requests_total{upstream="chat",target="${echo.url}",status_class="1xx"}`)).toBe(1);
  expect(m.get(`wsgate_upstream_errors_total{upstream="dead",target="${dead}",kind="refused"}`)).toBe(1);
  expect(m.has(`wsgate_upstream_requests_total{upstream="dead",target="${dead}",status_class="5xx"}`)).toBe(false);
  expect(m.get(`wsgate_upstream_active_connections{upstream="chat",target="${echo.url}"}`)).toBe(1);
  expect(m.get(`wsgate_upstream_active_connections{upstream="api",target="${api.url}"}`)).toBe(0);
  const version = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  expect(m.get(`wsgate_build_info{version="${version}",node="${process.versions.node}"}`)).toBe(1);

  // Closed: the gauges read 0 rather than vanish, and nothing is counted twice.
  const done = closed(ws);
  ws.close(1000);
  await done;
  await gw.waitForLog((l) => l.event === 'ws_close');
  const after = samples(await scrape(gw));
  expect(after.get('wsgate_ws_connections_active{route="chat"}')).toBe(0);
  expect(after.get(`wsgate_upstream_active_connections{upstream="chat",target="${echo.url}"}`)).toBe(0);
  expect(after.get('wsgate_ws_messages_total{route="chat",direction="client_to_upstream"}')).toBe(5);
  expect(after.get('wsgate_ws_messages_total{route="chat",direction="upstream_to_client"}')).toBe(5);
  expect(after.get('wsgate_ws_closes_total{route="chat",code="1000",initiator="client"}')).toBe(1);
  expect(after.get(`wsgate_upstream_requests_total{upstream="api",target="${api.url}",status_class="2xx"}`)).toBe(3);
});

test('a tunnel opened and closed between two scrapes leaves the active gauge of its route at 0', async () => {
  const up = await startWsEcho();
  const gw = await startGateway(proxyConfig(up.url, { match: { path: '/ws' } }));
  const ws = await openWs(gw.wsUrl('/ws'));
  const done = closed(ws);
  ws.close(1000);
  await done;
  await gw.waitForLog((l) => l.event === 'ws_close');
  const m = samples(await scrape(gw));
  expect(m.get('wsgate_ws_connections_active{route="app"}')).toBe(0);
  expect(m.get('wsgate_ws_connections_total{route="app",outcome="opened"}')).toBe(1);
});

// Per-target error kinds (issue 10, item 1): one failed exchange each, with retries off so the count is exact.
async function failingTarget(onSocket: (socket: Socket) => void, clock?: ManualClock): Promise<{ gw: TestGateway; url: string }> {
  const up = await startRawUpstream(onSocket);
  const gw = await startGateway(
    { upstreams: { app: { targets: [{ url: up.url }], retries: 0, timeouts: { response: '200ms' } } }, routes: [{ name: 'app', match: { path: '/*' }, upstream: 'app' }] },
    undefined,
    { clock },
  );
  return { gw, url: up.url };
}

test('an upstream that never answers counts as a timeout of its target', async () => {
  const clock = new ManualClock(10);
  let requested!: () => void;
  const read = new Promise<void>((resolve) => (requested = resolve));
  const { gw, url } = await failingTarget((socket) => socket.once('data', () => requested()), clock);
  const res = send(gw.url('/slow'));
  await read;
  clock.advance(200 + 2 * clock.tick);
  expect((await res).status).toBe(504);
  const text = await scrape(gw);
  expect(text).toContain(`\nwsgate_upstream_errors_total{upstream="app",target="${url}",kind="timeout"} 1\n`);
  expect(text).not.toContain('kind="reset"');
});

test('an upstream that cuts the connection after reading the request counts as a reset of its target', async () => {
  const { gw, url } = await failingTarget((socket) => socket.once('data', () => socket.destroy()));
  expect((await send(gw.url('/cut'))).status).toBe(502);
  const text = await scrape(gw);
  expect(text).toContain(`\nwsgate_upstream_errors_total{upstream="app",target="${url}",kind="reset"} 1\n`);
  expect(text).not.toContain('kind="bad_response"');
});

test('an upstream that answers garbage counts as a bad_response of its target', async () => {
  const { gw, url } = await failingTarget((socket) => socket.once('data', () => socket.write('NOT HTTP AT ALL\r\n\r\n')));
  expect((await send(gw.url('/garbage'))).status).toBe(502);
  const text = await scrape(gw);
  expect(text).toContain(`\nwsgate_upstream_errors_total{upstream="app",target="${url}",kind="bad_response"} 1\n`);
  expect(text).not.toContain('kind="reset"');
});
