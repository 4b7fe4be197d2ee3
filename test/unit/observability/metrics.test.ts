// observability/metrics: the `metrics.enabled` switch: off, the counting methods on the request and
// tunnel paths count nothing and a scrape has no sample; on, the same calls are counted.
import { expect, test } from 'vitest';
import { GatewayMetrics, METRICS_OFF_TEXT, type TunnelCounts } from '../../../src/observability/metrics.js';

function metrics(enabled: boolean): GatewayMetrics {
  return new GatewayMetrics({ enabled, defaultMetrics: false, upstreams: () => [], tunnels: () => [], wsRoutes: () => [] });
}

function tunnel(): TunnelCounts {
  return { options: { route: 'app' }, messagesIn: 4, messagesOut: 3, bytesIn: 40, bytesOut: 30, reportedMessagesIn: 0, reportedMessagesOut: 0, reportedBytesIn: 0, reportedBytesOut: 0 };
}

// Every counting call the gateway makes per request, handshake and tunnel.
function drive(m: GatewayMetrics): void {
  const r = m.route('app');
  m.httpFinished(r, 'GET', 200, 0.004);
  m.wsOpened(r);
  const t = tunnel();
  m.reportTunnel(t);
  m.wsClosed(t, 1000, 'client', 2, false);
  m.wsRefused(r, 403);
  m.wsConnectionsLimited(r);
  m.target('up', 'http://127.0.0.1:1').answered(200, 0.003);
  m.target('up', 'http://127.0.0.1:1').failed('refused');
}

test('with metrics off nothing is counted and a scrape is one comment line, for a primary no sample at all', async () => {
  const m = metrics(false);
  drive(m);
  const r = m.route('app');
  expect(r.durationCount).toBe(0);
  expect(r.requests.size).toBe(0);
  expect(r.wsOpened.total + r.messagesIn.total + r.bytesOut.total).toBe(0);
  expect(r.closes.size).toBe(0);
  expect(m.target('up', 'http://127.0.0.1:1').durationCount).toBe(0);
  expect(await m.text()).toBe(METRICS_OFF_TEXT);
  expect(await m.json()).toEqual([]);
});

test('with metrics on the same calls are counted and scraped', async () => {
  const m = metrics(true);
  drive(m);
  const r = m.route('app');
  expect(r.durationCount).toBe(1);
  expect(r.messagesIn.total).toBe(4);
  const text = await m.text();
  expect(text).toContain('wsgate_http_requests_total{route="app",method="GET",status="200"} 1');
  expect(text).toContain('wsgate_ws_closes_total{route="app",code="1000",initiator="client"} 1');
  expect(text).toContain('wsgate_upstream_errors_total{upstream="up",target="http://127.0.0.1:1",kind="refused"} 1');
});
