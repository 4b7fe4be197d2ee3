// observability/metric-children: the per-route and per-target children of the gateway's metrics
// (taken once, then counted as plain numbers on the hot path: PendingCount) and the duration
// histograms folded from those numbers at scrape time (FoldedHistogram). Not the metric names and
// the registry (observability/metrics.ts), which hands the names in.
import type { ErrorKind } from '../core/exchange.js';
import type { Counter, Gauge, Histogram } from 'prom-client';
import type { GatewayMetrics } from './metrics.js';

// 1 ms .. 30 s: an HTTP exchange through the gateway, upstream time included.
export const HTTP_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export const DIRECTION_IN = 'client_to_upstream';
export const DIRECTION_OUT = 'upstream_to_client';

// wsgate_upstream_requests_total's status_class, by the status's first digit.
const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

export type CounterChild = Counter.Internal;
export type GaugeChild = Gauge.Internal<string>;
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
export class RouteMetrics implements DurationCounts {
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

// The children of one upstream target, taken when the target first answers or fails (kept on the
// target, upstream/pool.ts): plain numbers on the hot path, like RouteMetrics.
export class TargetMetrics implements DurationCounts {
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

// Plain per-bucket counts of one route or target (not cumulative), added to on the hot path.
export interface DurationCounts {
  readonly durationBuckets: Float64Array;
  durationSum: number;
  durationCount: number;
}

// A duration histogram as prom-client sees a metric (name, help, type, aggregator, get, reset): its
// buckets live in RouteMetrics or TargetMetrics as plain numbers (prom-client has no way to add to a
// bucket) and are laid out here, in prom-client's own shape, only when someone scrapes (text) or a
// cluster primary asks (JSON, summed by AggregatorRegistry).
export class FoldedHistogram<T extends DurationCounts> {
  readonly metric;
  constructor(name: string, help: string, sources: ReadonlyMap<string, T>, labelsOf: (source: T) => Record<string, string>) {
    this.metric = {
      name,
      help,
      type: 'histogram',
      aggregator: 'sum',
      get: async () => {
        const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
        for (const s of sources.values()) {
          if (s.durationCount === 0) continue;
          const labels = labelsOf(s);
          let acc = 0;
          for (let i = 0; i < HTTP_BUCKETS_S.length; i++) {
            acc += s.durationBuckets[i]!;
            values.push({ labels: { le: HTTP_BUCKETS_S[i]!, ...labels }, value: acc, metricName: `${name}_bucket` });
          }
          values.push({ labels: { le: '+Inf', ...labels }, value: s.durationCount, metricName: `${name}_bucket` });
          values.push({ labels, value: s.durationSum, metricName: `${name}_sum` });
          values.push({ labels, value: s.durationCount, metricName: `${name}_count` });
        }
        return { name, help, type: this.metric.type, values, aggregator: this.metric.aggregator };
      },
      reset: () => {
        for (const s of sources.values()) {
          s.durationBuckets.fill(0);
          s.durationSum = 0;
          s.durationCount = 0;
        }
      },
    };
  }
}
