// GET /metrics through a real gateway and real upstreams (SPEC sections 6 and 7).
import { setTimeout as delay } from 'node:timers/promises';
import WebSocket from 'ws';
import { expect, onTestFinished, test } from 'vitest';
import { startGateway, proxyConfig, type TestGateway } from '../../helpers/gateway.js';
import { startHttpUpstream, startWsEcho } from '../../helpers/servers.js';
import { closed, nextMessage, openWs } from '../../helpers/clients.js';
import { send } from '../../helpers/http.js';

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

// Tunnel counts reach the metrics on the gateway's clock tick: scrape until the series shows.
async function scrapeUntil(gw: TestGateway, series: string, atLeast: number): Promise<string> {
  for (;;) {
    const text = await scrape(gw);
    if ((valueOf(text, series) ?? 0) >= atLeast) return text;
    await delay(50);
  }
}

test('HTTP exchanges are counted by route, method and status, with their duration; unmatched ones under route ""', async () => {
  const up = await startHttpUpstream((_req, res) => res.end('ok'));
  const gw = await startGateway(proxyConfig(up.url, { match: { path: '/api/*' } }));
  for (let i = 0; i < 3; i++) expect((await send(gw.url('/api/x'))).status).toBe(200);
  expect((await send(gw.url('/nowhere'))).status).toBe(404);
  const text = await scrape(gw);
  expect(valueOf(text, 'wsgate_http_requests_total{route="app",method="GET",status="200"}')).toBe(3);
  expect(valueOf(text, 'wsgate_http_request_duration_seconds_count{route="app"}')).toBe(3);
  expect(valueOf(text, 'wsgate_http_request_duration_seconds_bucket{le="30",route="app"}')).toBe(3);
  expect(valueOf(text, 'wsgate_http_requests_total{route="",method="GET",status="404"}')).toBe(1);
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
