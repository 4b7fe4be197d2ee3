// admin/snapshot: what the dashboard's event stream (GET /api/events) sends once a second: the
// gateway's views (routes, upstreams, live connections) and rates computed from two scrapes of its
// own metrics (per-second deltas of the counters, p50/p99 from the histogram buckets counted in
// between), the closes of the last minute by code, and the active anomalies. With `scope: 'cluster'`
// the connection list is every instance's (admin/views.ts, through the shared store); the rest stays
// this instance's. One Snapshotter per stream keeps the previous scrape; it reads only AdminSource,
// so a cluster primary's merged views and metrics serve it the same way as one process.
import type { AdminSource, ConnectionFilter } from './server.js';
import type { ClusterConnectionList, ConnectionList, RouteView, UpstreamView } from './views.js';
import { DIRECTION_IN, DIRECTION_OUT, UNMATCHED_ROUTE } from '../observability/metrics.js';
import { histogramBuckets, parsePromText, quantileBetween, sumBy, type PromSamples } from '../observability/prom-text.js';

const CLOSE_WINDOW_MS = 60_000;

// What each close code means to an operator (SPEC section 4 for the ones the gateway sends).
const CLOSE_MEANINGS: Readonly<Record<number, string>> = {
  1000: 'normal closure',
  1001: 'going away: gateway shutting down, idle timeout, heartbeat lost, or the peer left',
  1002: 'protocol violation by the peer',
  1003: 'data type the peer cannot accept',
  1005: 'close frame without a code',
  1006: 'connection lost without a close frame',
  1007: 'invalid payload (e.g. bad UTF-8)',
  1008: 'policy: rate limit, token expired, lifetime reached, or closed by an operator',
  1009: 'message larger than maxMessageBytes',
  1010: 'extension not negotiated',
  1011: 'internal error',
  1012: 'route removed or changed by a reload',
  1013: 'try again later',
  1014: 'upstream connection lost or failed',
};

export function closeMeaning(code: number): string {
  const known = CLOSE_MEANINGS[code];
  if (known !== undefined) return known;
  if (code >= 3000 && code <= 3999) return 'registered by a library or framework';
  if (code >= 4000 && code <= 4999) return "the application's own code";
  return 'unassigned';
}

export interface RouteRates {
  name: string;
  host: string | null;
  path: string;
  upstream: string | null;       // null: answered by the gateway (respond) or unmatched requests
  requestsPerSec: number | null; // null on the first snapshot of a stream
  errorsPerSec: number | null;   // 5xx answers
  p50Ms: number | null;          // null: no request in the interval
  p99Ms: number | null;
  wsActive: number;
  messagesInPerSec: number | null;
  messagesOutPerSec: number | null;
}

export interface CloseCount {
  code: number;
  meaning: string;
  lastMinute: number; // since the stream began when that is shorter
  total: number;      // since the gateway started
}

export interface Snapshot {
  at: string;                // ISO 8601
  intervalMs: number | null; // since the previous snapshot of this stream; the rates cover it
  ready: boolean;            // false while draining
  metrics: boolean;          // false when metrics are turned off (metrics.enabled: false): no rates
  sharedStore: boolean;      // `store: { redis }`: the stream may ask for the cluster's connections
  totals: {
    connections: number;     // live WebSockets
    inFlightRequests: number;
    requestsPerSec: number | null;
    p50Ms: number | null;    // over every route
    p99Ms: number | null;
    messagesInPerSec: number | null;  // client → upstream
    messagesOutPerSec: number | null;
    bytesInPerSec: number | null;
    bytesOutPerSec: number | null;
  };
  routes: RouteRates[];
  upstreams: UpstreamView[];
  closes: CloseCount[];
  anomalies: { route: string; signal: string }[];
  connections: ConnectionList | ClusterConnectionList; // the latter with `scope: 'cluster'`
}

interface Reading {
  atMs: number;
  samples: PromSamples;
}

const DURATION = 'wsgate_http_request_duration_seconds';
// Registered by a shared store only, on one process as on a cluster primary's merged scrape.
const STORE_UP = 'wsgate_store_up';
const ALL = (): boolean => true;

export class Snapshotter {
  private previous: Reading | null = null;
  // Closes by code as the counters read, oldest first; the first is the newest reading at least a
  // minute old (the baseline of "last minute"), or the stream's first.
  private readonly closeHistory: { atMs: number; byCode: Map<string, number> }[] = [];
  // With metrics off there is no wsgate_store_up to read: the running config says, asked once a stream.
  private configuredStore: Promise<boolean> | null = null;

  constructor(private readonly source: AdminSource, private readonly filter: ConnectionFilter) {}

  async take(nowMs: number): Promise<Snapshot> {
    const source = this.source;
    const [routes, upstreams, connections, text] = await Promise.all([
      source.routes() as RouteView[] | Promise<RouteView[]>,
      source.upstreams() as UpstreamView[] | Promise<UpstreamView[]>,
      source.connections(this.filter) as ConnectionList | ClusterConnectionList | Promise<ConnectionList | ClusterConnectionList>,
      source.metrics(),
    ]);
    const now: Reading = { atMs: nowMs, samples: parsePromText(text) };
    const before = this.previous;
    this.previous = now;
    const dtS = before === null ? 0 : (now.atMs - before.atMs) / 1000;
    const rate = (name: string, label: string | null, where?: (l: Readonly<Record<string, string>>) => boolean): Map<string, number> | null => {
      if (before === null || dtS <= 0) return null;
      const a = sumBy(before.samples, name, label, where);
      const out = new Map<string, number>();
      // A counter that went down (a worker restarted) counts from zero again.
      for (const [k, v] of sumBy(now.samples, name, label, where)) out.set(k, Math.max(0, v - (a.get(k) ?? 0)) / dtS);
      return out;
    };
    const quantiles = (where: (l: Readonly<Record<string, string>>) => boolean): { p50Ms: number | null; p99Ms: number | null } => {
      if (before === null) return { p50Ms: null, p99Ms: null };
      const a = histogramBuckets(before.samples, DURATION, where);
      const b = histogramBuckets(now.samples, DURATION, where);
      return { p50Ms: ms(quantileBetween(a, b, 0.5)), p99Ms: ms(quantileBetween(a, b, 0.99)) };
    };

    const requests = rate('wsgate_http_requests_total', 'route');
    const errors = rate('wsgate_http_requests_total', 'route', (l) => (l.status ?? '').startsWith('5'));
    const messagesIn = rate('wsgate_ws_messages_total', 'route', (l) => l.direction === DIRECTION_IN);
    const messagesOut = rate('wsgate_ws_messages_total', 'route', (l) => l.direction === DIRECTION_OUT);
    const bytes = rate('wsgate_ws_bytes_total', 'direction');
    const active = sumBy(now.samples, 'wsgate_ws_connections_active', 'route');
    const pick = (m: Map<string, number> | null, key: string): number | null => (m === null ? null : round(m.get(key) ?? 0));
    const total = (m: Map<string, number> | null): number | null => (m === null ? null : round([...m.values()].reduce((s, v) => s + v, 0)));

    const routeRows: RouteRates[] = routes.map((r) => ({
      name: r.name,
      host: r.match.host,
      path: r.match.path,
      upstream: r.upstream,
      requestsPerSec: pick(requests, r.name),
      errorsPerSec: pick(errors, r.name),
      ...quantiles((l) => l.route === r.name),
      wsActive: active.get(r.name) ?? 0,
      messagesInPerSec: pick(messagesIn, r.name),
      messagesOutPerSec: pick(messagesOut, r.name),
    }));
    // Requests no route matched (404s, bad paths) show as their own row once there are any.
    if (now.samples.get('wsgate_http_requests_total')?.some((s) => !routes.some((r) => r.name === s.labels.route)) === true) {
      routeRows.push({
        name: UNMATCHED_ROUTE,
        host: null,
        path: '',
        upstream: null,
        requestsPerSec: pick(requests, UNMATCHED_ROUTE),
        errorsPerSec: pick(errors, UNMATCHED_ROUTE),
        ...quantiles((l) => l.route === UNMATCHED_ROUTE),
        wsActive: 0,
        messagesInPerSec: null,
        messagesOutPerSec: null,
      });
    }

    return {
      at: new Date(nowMs).toISOString(),
      intervalMs: before === null ? null : now.atMs - before.atMs,
      ready: source.ready,
      metrics: now.samples.size > 0,
      sharedStore: now.samples.size > 0 ? now.samples.has(STORE_UP) : await this.storeInConfig(),
      totals: {
        connections: localTotal(connections),
        inFlightRequests: upstreams.reduce((s, u) => s + u.targets.reduce((t, x) => t + x.inFlightRequests, 0), 0),
        requestsPerSec: total(requests),
        ...quantiles(ALL),
        messagesInPerSec: total(messagesIn),
        messagesOutPerSec: total(messagesOut),
        bytesInPerSec: pick(bytes, DIRECTION_IN),
        bytesOutPerSec: pick(bytes, DIRECTION_OUT),
      },
      routes: routeRows,
      upstreams,
      closes: this.closes(now),
      anomalies: this.anomalies(now.samples),
      connections,
    };
  }

  private storeInConfig(): Promise<boolean> {
    this.configuredStore ??= Promise.resolve(this.source.redactedConfig()).then(
      (config) => typeof (config as { store?: unknown } | null)?.store === 'object',
      () => false,
    );
    return this.configuredStore;
  }

  private closes(now: Reading): CloseCount[] {
    const byCode = sumBy(now.samples, 'wsgate_ws_closes_total', 'code');
    const history = this.closeHistory;
    history.push({ atMs: now.atMs, byCode });
    while (history.length > 1 && now.atMs - history[1]!.atMs >= CLOSE_WINDOW_MS) history.shift();
    const oldest = history[0]!;
    const out: CloseCount[] = [];
    for (const [key, count] of byCode) {
      const code = Number(key);
      // The first reading of a stream has nothing before it: everything it holds counts as before the window.
      const lastMinute = oldest === history.at(-1) ? 0 : Math.max(0, count - (oldest.byCode.get(key) ?? 0));
      out.push({ code, meaning: closeMeaning(code), lastMinute, total: count });
    }
    return out.sort((a, b) => b.lastMinute - a.lastMinute || b.total - a.total || a.code - b.code);
  }

  private anomalies(samples: PromSamples): { route: string; signal: string }[] {
    if (this.source.anomalies !== undefined) return this.source.anomalies().map(({ route, signal }) => ({ route, signal }));
    // A cluster primary: the workers' gauge, merged with max (1 when any worker sees it).
    return (samples.get('wsgate_anomaly_active') ?? []).filter((s) => s.value >= 1).map((s) => ({ route: s.labels.route ?? '', signal: s.labels.signal ?? '' }));
  }
}

// The cards count this instance's connections, as every other total; a cluster list names it first.
function localTotal(list: ConnectionList | ClusterConnectionList): number {
  return 'instances' in list ? (list.instances[0]?.total ?? list.total) : list.total;
}

function ms(seconds: number | null): number | null {
  return seconds === null ? null : Math.round(seconds * 100_000) / 100; // 0.01 ms
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
