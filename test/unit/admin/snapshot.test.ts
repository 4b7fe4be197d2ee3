// admin/snapshot: what one event-stream snapshot holds, computed from two scrapes of the gateway's
// metrics taken a known time apart (the source here hands out scrapes written by the test).
import { expect, test } from 'vitest';
import type { AdminSource } from '../../../src/admin/server.js';
import { Snapshotter, closeMeaning } from '../../../src/admin/snapshot.js';
import type { ClusterConnectionList, ConnectionList, RouteView, UpstreamView } from '../../../src/admin/views.js';

function routeView(name: string, path: string): RouteView {
  return { name, match: { host: null, path, methods: null }, upstream: 'up', respond: null, stripPrefix: null, rewrite: null, websocket: {} as RouteView['websocket'], middleware: 0 };
}

const UPSTREAMS: UpstreamView[] = [
  { name: 'up', balance: 'round_robin', targets: [{ url: 'http://127.0.0.1:1', weight: 1, backup: false, healthy: true, healthReason: 'ok', lastCheck: null, ejectedUntil: null, effectiveWeight: 1, activeConnections: 2, inFlightRequests: 3 }] },
];

// A source whose metrics() answers the given scrapes in turn.
function sourceOf(scrapes: string[], extra: Partial<AdminSource> = {}): AdminSource {
  const list: ConnectionList = { connections: [], total: 2 };
  return {
    ready: true,
    routes: () => [routeView('app', '/*'), routeView('ws', '/ws/*')],
    upstreams: () => UPSTREAMS,
    connections: () => list,
    connection: () => null,
    closeConnection: () => false,
    redactedConfig: () => ({}),
    reload: () => Promise.reject(new Error('not here')),
    metrics: () => Promise.resolve(scrapes.shift() ?? ''),
    ...extra,
  };
}

const FILTER = { route: null, user: null, limit: 100 };

function scrape(n: { ok: number; failed: number; fast: number; slow: number; msgsIn: number; bytesOut: number; closes1000: number; closes1008: number }): string {
  return [
    `wsgate_http_requests_total{route="app",method="GET",status="200"} ${n.ok}`,
    `wsgate_http_requests_total{route="app",method="GET",status="503"} ${n.failed}`,
    `wsgate_http_request_duration_seconds_bucket{le="0.01",route="app"} ${n.fast}`,
    `wsgate_http_request_duration_seconds_bucket{le="0.1",route="app"} ${n.fast + n.slow}`,
    `wsgate_http_request_duration_seconds_bucket{le="+Inf",route="app"} ${n.fast + n.slow}`,
    `wsgate_ws_connections_active{route="ws"} 2`,
    `wsgate_ws_messages_total{route="ws",direction="client_to_upstream"} ${n.msgsIn}`,
    `wsgate_ws_messages_total{route="ws",direction="upstream_to_client"} 0`,
    `wsgate_ws_bytes_total{route="ws",direction="client_to_upstream"} 0`,
    `wsgate_ws_bytes_total{route="ws",direction="upstream_to_client"} ${n.bytesOut}`,
    `wsgate_ws_closes_total{route="ws",code="1000",initiator="client"} ${n.closes1000}`,
    `wsgate_ws_closes_total{route="ws",code="1008",initiator="gateway"} ${n.closes1008}`,
    `wsgate_anomaly_active{route="app",signal="http_5xx"} 1`,
    `wsgate_anomaly_active{route="ws",signal="new_connections"} 0`,
    '',
  ].join('\n');
}

test('the first snapshot has the views and no rates; the next has per-second rates and p50/p99 over the interval', async () => {
  const s = new Snapshotter(
    sourceOf([
      scrape({ ok: 100, failed: 0, fast: 100, slow: 0, msgsIn: 10, bytesOut: 0, closes1000: 1, closes1008: 0 }),
      // 2 s later: 40 more requests (8 of them 503), 30 under 10 ms and 10 between 10 and 100 ms.
      scrape({ ok: 132, failed: 8, fast: 130, slow: 10, msgsIn: 110, bytesOut: 4096, closes1000: 1, closes1008: 3 }),
    ]),
    FILTER,
  );
  const first = await s.take(10_000);
  expect(first).toMatchObject({ at: new Date(10_000).toISOString(), intervalMs: null, ready: true, metrics: true });
  expect(first.totals).toEqual({ connections: 2, inFlightRequests: 3, requestsPerSec: null, p50Ms: null, p99Ms: null, messagesInPerSec: null, messagesOutPerSec: null, bytesInPerSec: null, bytesOutPerSec: null });
  expect(first.upstreams).toBe(UPSTREAMS);
  expect(first.closes).toEqual([
    { code: 1000, meaning: 'normal closure', lastMinute: 0, total: 1 },
    { code: 1008, meaning: closeMeaning(1008), lastMinute: 0, total: 0 },
  ]);

  const second = await s.take(12_000);
  expect(second.intervalMs).toBe(2000);
  expect(second.totals).toMatchObject({ requestsPerSec: 20, messagesInPerSec: 50, messagesOutPerSec: 0, bytesInPerSec: 0, bytesOutPerSec: 2048 });
  // p50: rank 20 of 40, inside the 30 under 10 ms; p99: rank 39.6, in the 10-100 ms bucket.
  expect(second.totals.p50Ms).toBeCloseTo(6.67, 2);
  expect(second.totals.p99Ms).toBeCloseTo(10 + 90 * (9.6 / 10), 2);
  expect(second.routes).toEqual([
    { name: 'app', host: null, path: '/*', upstream: 'up', requestsPerSec: 20, errorsPerSec: 4, p50Ms: second.totals.p50Ms, p99Ms: second.totals.p99Ms, wsActive: 0, messagesInPerSec: 0, messagesOutPerSec: 0 },
    { name: 'ws', host: null, path: '/ws/*', upstream: 'up', requestsPerSec: 0, errorsPerSec: 0, p50Ms: null, p99Ms: null, wsActive: 2, messagesInPerSec: 50, messagesOutPerSec: 0 },
  ]);
  expect(second.closes[0]).toEqual({ code: 1008, meaning: closeMeaning(1008), lastMinute: 3, total: 3 });
  // A cluster primary has no anomalies(): the gauge's 1s are the active ones.
  expect(second.anomalies).toEqual([{ route: 'app', signal: 'http_5xx' }]);
});

test('closes count over the last minute only, and a counter that went down (a worker restarted) reads no negative rate', async () => {
  const counts = { ok: 50, failed: 0, fast: 50, slow: 0, msgsIn: 0, bytesOut: 0, closes1000: 0, closes1008: 0 };
  const scrapes = [scrape(counts), scrape({ ...counts, closes1000: 5 }), scrape({ ...counts, closes1000: 6 }), scrape({ ...counts, closes1000: 6 }), scrape({ ...counts, ok: 10, fast: 10, closes1000: 6 })];
  const s = new Snapshotter(sourceOf(scrapes), FILTER);
  await s.take(0);
  expect((await s.take(30_000)).closes[0]).toMatchObject({ code: 1000, lastMinute: 5, total: 5 });
  // The baseline is the newest reading at least a minute old: at 70 s still the one at 0 s, at 95 s the one at 30 s.
  expect((await s.take(70_000)).closes[0]).toMatchObject({ code: 1000, lastMinute: 6, total: 6 });
  expect((await s.take(95_000)).closes[0]).toMatchObject({ code: 1000, lastMinute: 1, total: 6 });
  expect((await s.take(96_000)).totals.requestsPerSec).toBe(0);
});

test('anomalies come from the source itself when it knows them, and metrics turned off read as no rates', async () => {
  const s = new Snapshotter(sourceOf(['', ''], { anomalies: () => [{ route: 'ws', signal: 'abnormal_closes' }] }), FILTER);
  await s.take(0);
  const snap = await s.take(1000);
  expect(snap.metrics).toBe(false);
  expect(snap.anomalies).toEqual([{ route: 'ws', signal: 'abnormal_closes' }]);
  expect(snap.totals.requestsPerSec).toBe(0);
  expect(snap.closes).toEqual([]);
});

test('a shared store shows as sharedStore (wsgate_store_up, or the config with metrics off); a cluster list keeps the cards on this instance', async () => {
  const cluster: ClusterConnectionList = {
    scope: 'cluster',
    connections: [],
    total: 7,
    complete: true,
    instances: [{ instance: 'here', total: 2, publishedAt: null }, { instance: 'there', total: 5, publishedAt: '2026-12-05T10:00:00.000Z' }],
  };
  const withStore = await new Snapshotter(sourceOf(['wsgate_store_up 1\n'], { connections: () => cluster }), { ...FILTER, scope: 'cluster' }).take(0);
  expect(withStore).toMatchObject({ sharedStore: true, totals: { connections: 2 }, connections: { total: 7 } });
  expect((await new Snapshotter(sourceOf(['wsgate_build_info 1\n']), FILTER).take(0)).sharedStore).toBe(false);
  const off = { redactedConfig: () => ({ store: { redis: 'redis://127.0.0.1:6379' } }) };
  expect((await new Snapshotter(sourceOf([''], off), FILTER).take(0)).sharedStore).toBe(true);
  expect((await new Snapshotter(sourceOf(['']), FILTER).take(0)).sharedStore).toBe(false);
});

test('closeMeaning names the gateway codes, library and application ranges', () => {
  expect(closeMeaning(1012)).toContain('reload');
  expect(closeMeaning(1014)).toContain('upstream');
  expect(closeMeaning(3001)).toContain('library');
  expect(closeMeaning(4400)).toContain('application');
  expect(closeMeaning(2000)).toBe('unassigned');
});
