// observability/metrics: every Prometheus metric name and label (SPEC section 7), one prom-client
// Registry per gateway, and the cluster primary's merge of its workers' metrics.
// Nothing here runs per message: tunnels' message and byte counts are added as deltas on the clock
// tick (reportTunnel), at close and at scrape time (the live tunnels are read then, so a scrape
// includes everything relayed before it); children are taken once per route, target (or label set),
// and the ones that change per request or tunnel are plain numbers (PendingCount) until a scrape.
// With `metrics: { enabled: false }` every counting method returns at once and a scrape has no samples.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ErrorKind } from '../core/exchange.js';
import { AggregatorRegistry, collectDefaultMetrics, Counter, Gauge, Histogram, Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';

export const METRICS_CONTENT_TYPE: string = Registry.PROMETHEUS_CONTENT_TYPE;

// 1 ms .. 30 s: an HTTP exchange through the gateway, upstream time included.
export const HTTP_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
// 1 s .. 24 h: how long a WebSocket stayed open.
const WS_BUCKETS_S = [1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 21600, 43200, 86400];

// The route label of requests and handshakes that match no route (an empty label would read as no label).
export const UNMATCHED_ROUTE = 'unmatched';

// wsgate_upstream_requests_total's status_class, by the status's first digit.
const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

// The package's version, read once: the nearest package.json above this file, from src/ (tsx) and dist/ alike.
export const VERSION: string = readVersion();

function readVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      try {
        const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
        if (pkg.name === 'wsgate' && typeof pkg.version === 'string') return pkg.version;
      } catch {
        // not ours, or unreadable: keep walking up
      }
    }
    const up = dirname(dir);
    if (up === dir) return 'unknown';
    dir = up;
  }
}

export const DIRECTION_IN = 'client_to_upstream';
export const DIRECTION_OUT = 'upstream_to_client';

// What a tunnel (ws/tunnel) shows metrics; the reported* fields hold what was already counted.
export interface TunnelCounts {
  readonly options: { readonly route: string };
  readonly messagesIn: number;
  readonly messagesOut: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  reportedMessagesIn: number;
  reportedMessagesOut: number;
  reportedBytesIn: number;
  reportedBytesOut: number;
}

// What the upstream gauges read of a pool (upstream/pool) at scrape time.
export interface UpstreamCounts {
  readonly name: string;
  readonly targets: readonly {
    readonly spec: { readonly origin: string };
    readonly healthy: boolean;
    readonly activeTunnels: number;
    readonly inFlight: number;
  }[];
}

type CounterChild = Counter.Internal;
type GaugeChild = Gauge.Internal<string>;
type HistogramChild = Histogram.Internal<string>;

// A counter or gauge child's changes as a plain number, handed to prom-client when someone scrapes
// (GatewayMetrics.flush from the metrics' collect()): a child's inc() hashes its label set every
// time, and these change per tunnel open and close and per tunnel on every clock tick.
export class PendingCount {
  value = 0;
  private flushed = 0; // what earlier scrapes handed on
  constructor(private readonly child: CounterChild | GaugeChild) {}

  /** Everything counted so far (the anomaly monitor takes deltas of it once per window). */
  get total(): number {
    return this.flushed + this.value;
  }

  flush(): void {
    const v = this.value;
    if (v === 0) return;
    this.value = 0;
    this.flushed += v;
    if (v > 0) this.child.inc(v);
    else (this.child as GaugeChild).dec(-v);
  }
}

// The children of one route, taken when the route is first seen.
export class RouteMetrics {
  // method → status → count, and the duration histogram: plain numbers on the hot path (prom-client
  // hashes the label set on every inc/observe: 2.5-4.5 µs a request here).
  readonly requests = new Map<string, Map<number, PendingCount>>();
  readonly durationBuckets = new Float64Array(HTTP_BUCKETS_S.length); // per bucket, not cumulative
  durationSum = 0;
  durationCount = 0;
  readonly wsActive: PendingCount;
  readonly wsActiveChild: GaugeChild;
  wsSeen = false; // the route proxies WebSockets or has had a tunnel: its active gauge reads 0, not absent
  readonly wsOpened: PendingCount;
  readonly wsRejected: CounterChild;
  readonly wsFailed: CounterChild;
  readonly messagesIn: PendingCount;
  readonly messagesOut: PendingCount;
  readonly bytesIn: PendingCount;
  readonly bytesOut: PendingCount;
  // close code → initiator → count
  readonly closes = new Map<number, Map<string, PendingCount>>();
  readonly wsDuration: HistogramChild;
  readonly limitedMessages: CounterChild;
  readonly limitedConnections: CounterChild;
  readonly limitedHttp: PendingCount;
  constructor(readonly name: string, m: GatewayMetrics) {
    this.wsActiveChild = m.wsActive.labels(name);
    this.wsActive = m.pending(this.wsActiveChild);
    this.wsOpened = m.pending(m.wsConnections.labels(name, 'opened'));
    this.wsRejected = m.wsConnections.labels(name, 'rejected');
    this.wsFailed = m.wsConnections.labels(name, 'failed');
    this.messagesIn = m.pending(m.wsMessages.labels(name, DIRECTION_IN));
    this.messagesOut = m.pending(m.wsMessages.labels(name, DIRECTION_OUT));
    this.bytesIn = m.pending(m.wsBytes.labels(name, DIRECTION_IN));
    this.bytesOut = m.pending(m.wsBytes.labels(name, DIRECTION_OUT));
    this.wsDuration = m.wsDuration.labels(name);
    this.limitedMessages = m.rateLimited.labels(name, 'ws_message');
    this.limitedConnections = m.rateLimited.labels(name, 'ws_connections');
    this.limitedHttp = m.pending(m.rateLimited.labels(name, 'http'));
  }
}

// The HTTP duration histogram as prom-client sees a metric (name, help, type, aggregator, get, reset):
// its buckets live in RouteMetrics as plain numbers (prom-client has no way to add to a bucket) and
// are laid out here, in prom-client's own shape, only when someone scrapes (text) or a cluster
// primary asks (JSON, summed by AggregatorRegistry).
export class HttpDurationMetric {
  readonly duration;
  constructor(routes: ReadonlyMap<string, RouteMetrics>) {
    this.duration = {
      name: 'wsgate_http_request_duration_seconds',
      help: 'HTTP exchange duration, from the request head to the end of the response',
      type: 'histogram',
      aggregator: 'sum',
      get: async () => {
        const name = this.duration.name;
        const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
        for (const r of routes.values()) {
          if (r.durationCount === 0) continue;
          let acc = 0;
          for (let i = 0; i < HTTP_BUCKETS_S.length; i++) {
            acc += r.durationBuckets[i]!;
            values.push({ labels: { le: HTTP_BUCKETS_S[i]!, route: r.name }, value: acc, metricName: `${name}_bucket` });
          }
          values.push({ labels: { le: '+Inf', route: r.name }, value: r.durationCount, metricName: `${name}_bucket` });
          values.push({ labels: { route: r.name }, value: r.durationSum, metricName: `${name}_sum` });
          values.push({ labels: { route: r.name }, value: r.durationCount, metricName: `${name}_count` });
        }
        return { name, help: this.duration.help, type: this.duration.type, values, aggregator: this.duration.aggregator };
      },
      reset: () => {
        for (const r of routes.values()) {
          r.durationBuckets.fill(0);
          r.durationSum = 0;
          r.durationCount = 0;
        }
      },
    };
  }
}

// The children of one upstream target, taken when the target first answers or fails (kept on the
// target, upstream/pool.ts): plain numbers on the hot path, like RouteMetrics.
export class TargetMetrics {
  private readonly classes: (PendingCount | null)[] = [null, null, null, null, null];
  private readonly errors = new Map<ErrorKind, PendingCount>();
  readonly durationBuckets = new Float64Array(HTTP_BUCKETS_S.length); // per bucket, not cumulative
  durationSum = 0;
  durationCount = 0;
  constructor(readonly upstream: string, readonly target: string, private readonly m: GatewayMetrics) {}

  // HOT: per response head (HTTP, and a WebSocket handshake's answer without a duration: seconds < 0).
  answered(status: number, seconds: number): void {
    if (!this.m.enabled) return;
    const i = Math.min(4, Math.max(0, ((status / 100) | 0) - 1));
    const count = this.classes[i] ?? (this.classes[i] = this.m.pending(this.m.upstreamRequests.labels(this.upstream, this.target, STATUS_CLASSES[i]!)));
    count.value++;
    if (seconds < 0) return;
    let b = 0;
    while (b < HTTP_BUCKETS_S.length && seconds > HTTP_BUCKETS_S[b]!) b++;
    if (b < HTTP_BUCKETS_S.length) this.durationBuckets[b]!++;
    this.durationSum += seconds;
    this.durationCount++;
  }

  failed(kind: ErrorKind): void {
    if (!this.m.enabled) return;
    let count = this.errors.get(kind);
    if (count === undefined) {
      count = this.m.pending(this.m.upstreamErrors.labels(this.upstream, this.target, kind));
      this.errors.set(kind, count);
    }
    count.value++;
  }
}

// wsgate_upstream_request_duration_seconds, laid out from the targets' plain buckets at scrape
// time, as HttpDurationMetric does for routes.
export class UpstreamDurationMetric {
  readonly duration;
  constructor(targets: ReadonlyMap<string, TargetMetrics>) {
    this.duration = {
      name: 'wsgate_upstream_request_duration_seconds',
      help: 'Time from sending an HTTP request to a target to its response head',
      type: 'histogram',
      aggregator: 'sum',
      get: async () => {
        const name = this.duration.name;
        const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
        for (const t of targets.values()) {
          if (t.durationCount === 0) continue;
          const labels = { upstream: t.upstream, target: t.target };
          let acc = 0;
          for (let i = 0; i < HTTP_BUCKETS_S.length; i++) {
            acc += t.durationBuckets[i]!;
            values.push({ labels: { le: HTTP_BUCKETS_S[i]!, ...labels }, value: acc, metricName: `${name}_bucket` });
          }
          values.push({ labels: { le: '+Inf', ...labels }, value: t.durationCount, metricName: `${name}_bucket` });
          values.push({ labels, value: t.durationSum, metricName: `${name}_sum` });
          values.push({ labels, value: t.durationCount, metricName: `${name}_count` });
        }
        return { name, help: this.duration.help, type: this.duration.type, values, aggregator: this.duration.aggregator };
      },
      reset: () => {
        for (const t of targets.values()) {
          t.durationBuckets.fill(0);
          t.durationSum = 0;
          t.durationCount = 0;
        }
      },
    };
  }
}

export interface GatewayMetricsOptions {
  /** `metrics.enabled` (default true); false: nothing is counted and a scrape has no samples. */
  readonly enabled?: boolean;
  /** prom-client's process and Node.js defaults; once per process (the CLI), not per test gateway. */
  readonly defaultMetrics: boolean;
  /** The live pools, read at scrape time for the upstream gauges. */
  readonly upstreams: () => Iterable<UpstreamCounts>;
  /** The live tunnels, whose counts since their last report are added at scrape time. */
  readonly tunnels: () => Iterable<TunnelCounts>;
  /** The routes that proxy WebSockets: their active gauge reads 0 from the start. */
  readonly wsRoutes: () => Iterable<string>;
}

// What GET /metrics answers with metrics turned off: valid Prometheus text without a sample.
export const METRICS_OFF_TEXT = '# wsgate: metrics are turned off (metrics.enabled: false in the config)\n';

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly enabled: boolean;
  readonly httpDuration: HttpDurationMetric;
  readonly httpRequests: Counter;
  readonly wsActive: Gauge;
  readonly wsConnections: Counter;
  readonly wsMessages: Counter;
  readonly wsBytes: Counter;
  readonly wsCloses: Counter;
  readonly wsDuration: Histogram;
  readonly upstreamHealthy: Gauge;
  readonly upstreamActive: Gauge;
  readonly rateLimited: Counter;
  readonly upstreamRequests: Counter;
  readonly upstreamErrors: Counter;
  readonly upstreamDuration: UpstreamDurationMetric;
  readonly buildInfo: Gauge;
  readonly anomalyActive: Gauge;
  private storeUpGauge: Gauge | null = null; // registered by a shared store only (`store: { redis }`)
  private readonly routes = new Map<string, RouteMetrics>();
  private readonly targets = new Map<string, TargetMetrics>();
  private readonly pendingCounts: PendingCount[] = [];
  private readonly tunnels: () => Iterable<TunnelCounts>;
  private readonly wsRoutes: () => Iterable<string>;
  private flushed = false; // within one scrape: every metric's collect() runs in the same tick

  constructor(options: GatewayMetricsOptions) {
    this.enabled = options.enabled ?? true;
    this.tunnels = options.tunnels;
    this.wsRoutes = options.wsRoutes;
    const registers = [this.registry];
    const flush = (): void => this.flush();
    this.httpRequests = new Counter({ name: 'wsgate_http_requests_total', help: `HTTP exchanges finished, by route ("${UNMATCHED_ROUTE}" when none matched), method and status`, labelNames: ['route', 'method', 'status'], registers, collect: flush });
    this.httpDuration = new HttpDurationMetric(this.routes);
    this.registry.registerMetric(this.httpDuration.duration as never);
    this.wsActive = new Gauge({ name: 'wsgate_ws_connections_active', help: 'Open WebSocket tunnels (0, not absent, for a route with none)', labelNames: ['route'], registers, collect: flush });
    this.wsConnections = new Counter({ name: 'wsgate_ws_connections_total', help: `WebSocket handshakes: opened, rejected by the gateway (4xx) or failed upstream (5xx); route "${UNMATCHED_ROUTE}" when none matched`, labelNames: ['route', 'outcome'], registers, collect: flush });
    this.wsMessages = new Counter({ name: 'wsgate_ws_messages_total', help: 'WebSocket data messages relayed (up to the moment of the scrape)', labelNames: ['route', 'direction'], registers, collect: flush });
    this.wsBytes = new Counter({ name: 'wsgate_ws_bytes_total', help: 'WebSocket bytes relayed, frame headers included (up to the moment of the scrape)', labelNames: ['route', 'direction'], registers, collect: flush });
    this.wsCloses = new Counter({ name: 'wsgate_ws_closes_total', help: 'WebSocket tunnels closed, by close code and the side that closed first', labelNames: ['route', 'code', 'initiator'], registers, collect: flush });
    this.wsDuration = new Histogram({ name: 'wsgate_ws_connection_duration_seconds', help: 'How long WebSocket tunnels stayed open', labelNames: ['route'], buckets: WS_BUCKETS_S, registers });
    // The upstream gauges are computed at scrape time from the running pools, reset first: a reload
    // may have dropped targets.
    const upstreams = options.upstreams;
    this.upstreamHealthy = new Gauge({
      name: 'wsgate_upstream_healthy',
      help: 'Whether the target takes traffic (1) or not (0)',
      labelNames: ['upstream', 'target'],
      registers,
      aggregator: 'min', // across cluster workers: healthy only if every worker sees it healthy
      collect: () => {
        this.upstreamHealthy.reset();
        for (const p of upstreams()) for (const t of p.targets) this.upstreamHealthy.labels(p.name, t.spec.origin).set(t.healthy ? 1 : 0);
      },
    });
    this.upstreamActive = new Gauge({
      name: 'wsgate_upstream_active_connections',
      help: 'Open WebSocket tunnels plus in-flight HTTP requests per target',
      labelNames: ['upstream', 'target'],
      registers,
      collect: () => {
        this.upstreamActive.reset();
        // inc, not set: the same URL listed twice in one upstream shows as one series.
        for (const p of upstreams()) for (const t of p.targets) this.upstreamActive.labels(p.name, t.spec.origin).inc(t.activeTunnels + t.inFlight);
      },
    });
    this.rateLimited = new Counter({ name: 'wsgate_rate_limited_total', help: 'Rate limits applied: ws_message (tunnel closed 1008), ws_connections (maxPerClient 429), http (requests and handshakes refused 429 by the route rateLimit)', labelNames: ['route', 'kind'], registers });
    this.upstreamRequests = new Counter({ name: 'wsgate_upstream_requests_total', help: 'Answers from a target: HTTP response heads and WebSocket handshake answers, by status class', labelNames: ['upstream', 'target', 'status_class'], registers, collect: flush });
    this.upstreamErrors = new Counter({ name: 'wsgate_upstream_errors_total', help: 'Failed exchanges and handshakes with a target: refused (could not connect), timeout, reset, bad_response', labelNames: ['upstream', 'target', 'kind'], registers, collect: flush });
    this.upstreamDuration = new UpstreamDurationMetric(this.targets);
    this.registry.registerMetric(this.upstreamDuration.duration as never);
    this.buildInfo = new Gauge({ name: 'wsgate_build_info', help: 'Always 1: the wsgate version and the Node.js version running it', labelNames: ['version', 'node'], registers });
    this.buildInfo.labels(VERSION, process.versions.node).set(1);
    this.anomalyActive = new Gauge({ name: 'wsgate_anomaly_active', help: 'A signal of a route deviates from its baseline (1) or came back (0): new_connections, abnormal_closes, http_5xx, http_p99', labelNames: ['route', 'signal'], registers, aggregator: 'max' }); // with workers: 1 when any worker sees it
    if (options.defaultMetrics && this.enabled) collectDefaultMetrics({ register: this.registry });
  }

  /** wsgate_store_up: whether the shared store answers (1) or limits count per instance (0). */
  storeUp(up: boolean): void {
    // Absent with `store: memory`: there is nothing that could be down.
    this.storeUpGauge ??= new Gauge({ name: 'wsgate_store_up', help: 'Whether the shared store (Redis) answers (1), or limits, counts and kicks fall back to this instance alone (0)', registers: [this.registry], aggregator: 'min' }); // with workers: 0 when any worker lost it
    this.storeUpGauge.set(up ? 1 : 0);
  }

  pending(child: CounterChild | GaugeChild): PendingCount {
    const p = new PendingCount(child);
    this.pendingCounts.push(p);
    return p;
  }

  // Before any scrape (every counted metric's collect() calls it; the first one in a scrape does the
  // work): the live tunnels' counts since their last report, then every pending number.
  flush(): void {
    if (this.flushed) return;
    this.flushed = true;
    queueMicrotask(() => {
      this.flushed = false;
    });
    for (const t of this.tunnels()) this.reportTunnel(t);
    for (const name of this.wsRoutes()) this.route(name).wsSeen = true;
    for (const p of this.pendingCounts) p.flush();
    for (const r of this.routes.values()) if (r.wsSeen) r.wsActiveChild.inc(0); // present at 0
  }

  // The children of one target, shared by every Target object with the same upstream and URL.
  target(upstream: string, origin: string): TargetMetrics {
    const key = `${upstream}\0${origin}`;
    let t = this.targets.get(key);
    if (t === undefined) {
      t = new TargetMetrics(upstream, origin, this);
      this.targets.set(key, t);
    }
    return t;
  }

  /** Every route seen so far (the anomaly monitor reads their totals once per window). */
  routeMetrics(): Iterable<RouteMetrics> {
    return this.routes.values();
  }

  route(name: string): RouteMetrics {
    let r = this.routes.get(name);
    if (r === undefined) {
      r = new RouteMetrics(name, this);
      this.routes.set(name, r);
    }
    return r;
  }

  // HOT: per HTTP exchange. The route's metrics come with the route (server/runtime.ts), then two
  // map lookups and a bucket search; no label hashing, no allocation once a route has seen its
  // method and status.
  httpFinished(r: RouteMetrics, method: string, status: number, seconds: number): void {
    if (!this.enabled) return;
    let byStatus = r.requests.get(method);
    if (byStatus === undefined) {
      byStatus = new Map();
      r.requests.set(method, byStatus);
    }
    let count = byStatus.get(status);
    if (count === undefined) {
      count = this.pending(this.httpRequests.labels(r.name, method, String(status)));
      byStatus.set(status, count);
    }
    count.value++;
    let b = 0;
    while (b < HTTP_BUCKETS_S.length && seconds > HTTP_BUCKETS_S[b]!) b++;
    if (b < HTTP_BUCKETS_S.length) r.durationBuckets[b]!++;
    r.durationSum += seconds;
    r.durationCount++;
  }

  // A WebSocket handshake answered with an error (or abandoned by the client: 499, rejected).
  wsRefused(r: RouteMetrics, status: number): void {
    if (!this.enabled) return;
    if (status >= 500) r.wsFailed.inc();
    else r.wsRejected.inc();
  }

  wsConnectionsLimited(r: RouteMetrics): void {
    if (!this.enabled) return;
    r.limitedConnections.inc();
  }

  httpRateLimited(r: RouteMetrics): void {
    r.limitedHttp.value++;
  }

  wsOpened(r: RouteMetrics): void {
    if (!this.enabled) return;
    r.wsSeen = true;
    r.wsOpened.value++;
    r.wsActive.value++;
  }

  // Once per clock tick per tunnel (TunnelRegistry.sweep), and at close: adds what the tunnel
  // relayed since the last report.
  reportTunnel(t: TunnelCounts): void {
    if (!this.enabled) return;
    const mi = t.messagesIn - t.reportedMessagesIn;
    const mo = t.messagesOut - t.reportedMessagesOut;
    const bi = t.bytesIn - t.reportedBytesIn;
    const bo = t.bytesOut - t.reportedBytesOut;
    if (mi === 0 && mo === 0 && bi === 0 && bo === 0) return;
    t.reportedMessagesIn = t.messagesIn;
    t.reportedMessagesOut = t.messagesOut;
    t.reportedBytesIn = t.bytesIn;
    t.reportedBytesOut = t.bytesOut;
    const r = this.route(t.options.route);
    r.messagesIn.value += mi;
    r.messagesOut.value += mo;
    r.bytesIn.value += bi;
    r.bytesOut.value += bo;
  }

  wsClosed(t: TunnelCounts, code: number, initiator: string, seconds: number, rateLimited: boolean): void {
    if (!this.enabled) return;
    this.reportTunnel(t);
    const r = this.route(t.options.route);
    r.wsActive.value--;
    r.wsDuration.observe(seconds);
    let byInitiator = r.closes.get(code);
    if (byInitiator === undefined) {
      byInitiator = new Map();
      r.closes.set(code, byInitiator);
    }
    let count = byInitiator.get(initiator);
    if (count === undefined) {
      count = this.pending(this.wsCloses.labels(r.name, String(code), initiator));
      byInitiator.set(initiator, count);
    }
    count.value++;
    if (rateLimited) r.limitedMessages.inc();
  }

  text(): Promise<string> {
    return this.enabled ? this.registry.metrics() : Promise.resolve(METRICS_OFF_TEXT);
  }

  // A cluster worker's answer: none with metrics off, so the primary's merge has no sample either.
  json(): Promise<MetricObjectWithValues<MetricValue<string>>[]> {
    return this.enabled ? this.registry.getMetricsAsJSON() : Promise.resolve([]);
  }
}

/** The cluster primary: every worker's `json()` merged (counters, histograms and gauges summed). */
export function aggregateMetrics(perWorker: readonly unknown[]): Promise<string> {
  return AggregatorRegistry.aggregate(perWorker as MetricObjectWithValues<MetricValue<string>>[][]).metrics();
}
