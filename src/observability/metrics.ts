// observability/metrics: every Prometheus metric name and label (SPEC section 7), one prom-client
// Registry per gateway, and the cluster primary's merge of its workers' metrics.
// Nothing here runs per message: tunnels' message and byte counts are added as deltas on the clock
// tick (reportTunnel), at close and at scrape time (the live tunnels are read then, so a scrape
// includes everything relayed before it); children are taken once per route, target (or label set),
// and the ones that change per request or tunnel are plain numbers (PendingCount) until a scrape.
// With `metrics: { enabled: false }` every counting method returns at once and a scrape has no samples.
// The per-route and per-target children and the histograms folded at scrape time: metric-children.ts.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AggregatorRegistry, collectDefaultMetrics, Counter, Gauge, Histogram, Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import { FoldedHistogram, HTTP_BUCKETS_S, PendingCount, RouteMetrics, TargetMetrics, type CounterChild, type GaugeChild } from './metric-children.js';

export { DIRECTION_IN, DIRECTION_OUT, HTTP_BUCKETS_S, type PendingCount, type RouteMetrics, type TargetMetrics } from './metric-children.js';

export const METRICS_CONTENT_TYPE: string = Registry.PROMETHEUS_CONTENT_TYPE;

// 1 s .. 24 h: how long a WebSocket stayed open.
const WS_BUCKETS_S = [1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 21600, 43200, 86400];

// The route label of requests and handshakes that match no route (an empty label would read as no label).
export const UNMATCHED_ROUTE = 'unmatched';

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
  readonly httpDuration: FoldedHistogram<RouteMetrics>;
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
  readonly upstreamDuration: FoldedHistogram<TargetMetrics>;
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
    this.httpDuration = new FoldedHistogram('wsgate_http_request_duration_seconds', 'HTTP exchange duration, from the request head to the end of the response', this.routes, (r) => ({ route: r.name }));
    this.registry.registerMetric(this.httpDuration.metric as never);
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
    this.upstreamDuration = new FoldedHistogram('wsgate_upstream_request_duration_seconds', 'Time from sending an HTTP request to a target to its response head', this.targets, (t) => ({ upstream: t.upstream, target: t.target }));
    this.registry.registerMetric(this.upstreamDuration.metric as never);
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
