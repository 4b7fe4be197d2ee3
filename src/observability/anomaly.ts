// observability/anomaly: built-in anomaly detection per route (issue 10, item 5). A pure
// AnomalyDetector per (route, signal) keeps an EWMA of the signal and of its variance and is fed one
// sample per window; AnomalyMonitor is a member of the gateway clock that, once per window, reads
// the per-route totals RouteMetrics already keeps (no per-request work), turns them into rates and
// raises or clears anomalies: an `anomaly` log line and wsgate_anomaly_active{route,signal}.
import type { Sweepable } from '../core/clock.js';
import { EVENTS } from './events.js';
import type { Logger } from './log.js';
import { HTTP_BUCKETS_S, type GatewayMetrics, type RouteMetrics } from './metrics.js';

export const ANOMALY_SIGNALS = ['new_connections', 'abnormal_closes', 'http_5xx', 'http_p99'] as const;
export type AnomalySignal = (typeof ANOMALY_SIGNALS)[number];

// Below these a deviation is noise, however many sigmas it is: per second for the rates, seconds
// for the latency.
export const ANOMALY_MIN_VALUE: Readonly<Record<AnomalySignal, number>> = {
  new_connections: 5,
  abnormal_closes: 1,
  http_5xx: 1,
  http_p99: 0.25,
};

// Close codes that mean a tunnel died rather than ended: no close frame, internal error, upstream timeout.
const ABNORMAL_CLOSES: readonly number[] = [1006, 1011, 1014];
// A window with fewer exchanges has no meaningful p99: no latency sample is taken.
const MIN_REQUESTS_FOR_P99 = 20;

export interface AnomalyOptions {
  readonly sigma: number;      // raise above mean + sigma × standard deviation
  readonly clearSigma: number; // clear when back within mean + clearSigma × standard deviation
  readonly forMs: number;      // for this long (both ways)
  readonly warmupMs: number;   // no anomaly before the baseline had this long to form
  readonly windowMs: number;   // one sample per window
  readonly minValue: number;   // and at least this much
}

export interface AnomalyChange {
  readonly kind: 'raised' | 'cleared';
  readonly value: number;
  readonly mean: number;
  readonly sd: number;
  readonly sinceMs: number; // when the deviation (raised) or the anomaly (cleared) began
}

export class AnomalyDetector {
  mean = 0;
  variance = 0;
  active = false;
  private samples = 0;
  private deviatingSinceMs: number | null = null;
  private normalSinceMs: number | null = null;
  private activeSinceMs = 0;

  constructor(private readonly startMs: number) {}

  get sd(): number {
    return Math.sqrt(this.variance);
  }

  // One sample for the window ending at nowMs; returns what changed, if anything.
  update(value: number, nowMs: number, o: AnomalyOptions): AnomalyChange | null {
    if (this.samples === 0) {
      this.samples = 1;
      this.mean = value;
      return null;
    }
    const sd = this.sd;
    if (nowMs - this.startMs < o.warmupMs) {
      this.learn(value, o);
      return null;
    }
    if (!this.active) {
      if (value > this.mean + o.sigma * sd && value >= o.minValue) {
        this.deviatingSinceMs ??= nowMs;
        if (nowMs - this.deviatingSinceMs < o.forMs) return null;
        this.active = true;
        this.activeSinceMs = this.deviatingSinceMs;
        this.deviatingSinceMs = null;
        this.normalSinceMs = null;
        return { kind: 'raised', value, mean: this.mean, sd, sinceMs: this.activeSinceMs };
      }
      // The baseline learns only from normal samples: a spike does not become the new normal.
      this.deviatingSinceMs = null;
      this.learn(value, o);
      return null;
    }
    if (value <= this.mean + o.clearSigma * sd || value < o.minValue) {
      this.normalSinceMs ??= nowMs;
      if (nowMs - this.normalSinceMs < o.forMs) return null;
      this.active = false;
      this.normalSinceMs = null;
      return { kind: 'cleared', value, mean: this.mean, sd, sinceMs: this.activeSinceMs };
    }
    this.normalSinceMs = null;
    return null;
  }

  // EWMA of the value and of its variance (West 1979, incremental form); the weight follows the
  // warmup, so the baseline remembers about as long as it took to form.
  private learn(value: number, o: AnomalyOptions): void {
    const n = Math.max(1, o.warmupMs / Math.max(1, o.windowMs));
    const alpha = Math.min(1, 2 / (n + 1));
    const diff = value - this.mean;
    const inc = alpha * diff;
    this.mean += inc;
    this.variance = (1 - alpha) * (this.variance + diff * inc);
    this.samples++;
  }
}

export interface AnomalyConfig {
  readonly enabled: boolean;
  readonly sigma: number;
  readonly forMs: number;
  readonly warmupMs: number;
  readonly windowMs: number;
  readonly webhook?: string | null;
}

// The optional webhook: each raise and clear POSTed as JSON. Sent from the clock's sweep, never
// awaited by anything on the relay; a failure (no answer within the timeout, a non-2xx status) is
// retried after 1 s, 2 s, 4 s, … up to WEBHOOK_ATTEMPTS attempts; at most WEBHOOK_QUEUE wait, the
// oldest dropped first.
const WEBHOOK_ATTEMPTS = 6;
const WEBHOOK_BACKOFF_MS = 1000;
const WEBHOOK_TIMEOUT_MS = 5000;
const WEBHOOK_QUEUE = 100;

interface Delivery {
  readonly url: string;
  readonly body: string;
  attempts: number;
  dueMs: number;
  inFlight: boolean;
}

export class AnomalyWebhook {
  private readonly queue: Delivery[] = [];

  constructor(private readonly log: Logger) {}

  get pending(): number {
    return this.queue.length;
  }

  send(url: string, payload: Record<string, unknown>, nowMs: number): void {
    if (this.queue.length >= WEBHOOK_QUEUE) {
      this.queue.shift();
      this.log.warn({ event: EVENTS.ANOMALY_WEBHOOK, delivered: false, reason: 'queue full' }, 'anomaly webhook queue full: the oldest notification was dropped');
    }
    this.queue.push({ url, body: JSON.stringify(payload), attempts: 0, dueMs: nowMs, inFlight: false });
    this.sweep(nowMs);
  }

  // On every clock tick: starts the deliveries that are due.
  sweep(nowMs: number): void {
    for (const d of this.queue) {
      if (d.inFlight || d.dueMs > nowMs) continue;
      d.inFlight = true;
      d.attempts++;
      fetch(d.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: d.body, signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS) })
        .then(
          async (res) => {
            await res.body?.cancel();
            this.settle(d, res.ok ? null : `status ${res.status}`, nowMs);
          },
          (err: unknown) => this.settle(d, failureOf(err), nowMs),
        )
        .catch(() => undefined);
    }
  }

  // The URL is never logged: a webhook URL often holds its token.
  private settle(d: Delivery, failure: string | null, startedMs: number): void {
    d.inFlight = false;
    if (failure !== null && d.attempts < WEBHOOK_ATTEMPTS) {
      d.dueMs = startedMs + WEBHOOK_BACKOFF_MS * 2 ** (d.attempts - 1);
      return;
    }
    const i = this.queue.indexOf(d);
    if (i >= 0) this.queue.splice(i, 1);
    if (failure !== null) this.log.warn({ event: EVENTS.ANOMALY_WEBHOOK, delivered: false, attempts: d.attempts, reason: failure }, 'anomaly webhook failed, notification dropped');
  }
}

// The totals of one route at the last window.
interface RouteTotals {
  opened: number;
  abnormal: number;
  http5xx: number;
  buckets: Float64Array;
  count: number;
}

interface RouteState {
  totals: RouteTotals;
  readonly detectors: Map<AnomalySignal, AnomalyDetector>;
}

function readTotals(r: RouteMetrics): RouteTotals {
  let abnormal = 0;
  for (const code of ABNORMAL_CLOSES) {
    const byInitiator = r.closes.get(code);
    if (byInitiator !== undefined) for (const c of byInitiator.values()) abnormal += c.total;
  }
  let http5xx = 0;
  for (const byStatus of r.requests.values()) for (const [status, c] of byStatus) if (status >= 500) http5xx += c.total;
  return { opened: r.wsOpened.total, abnormal, http5xx, buckets: Float64Array.from(r.durationBuckets), count: r.durationCount };
}

// The upper bound of the bucket holding the 99th percentile of the window's exchanges (the last
// finite bound when it lies beyond), or null when the window had too few.
export function p99OfWindow(now: RouteTotals, before: RouteTotals): number | null {
  const count = now.count - before.count;
  if (count < MIN_REQUESTS_FOR_P99) return null;
  const rank = Math.ceil(count * 0.99);
  let acc = 0;
  for (let i = 0; i < HTTP_BUCKETS_S.length; i++) {
    acc += now.buckets[i]! - before.buckets[i]!;
    if (acc >= rank) return HTTP_BUCKETS_S[i]!;
  }
  return HTTP_BUCKETS_S[HTTP_BUCKETS_S.length - 1]!;
}

export class AnomalyMonitor implements Sweepable {
  private lastMs: number | null = null;
  private readonly routes = new Map<string, RouteState>();
  readonly webhook: AnomalyWebhook;

  constructor(
    private readonly prom: GatewayMetrics,
    private readonly log: Logger,
    private readonly config: () => AnomalyConfig,
  ) {
    this.webhook = new AnomalyWebhook(log);
  }

  sweep(nowMs: number): void {
    if (this.webhook.pending > 0) this.webhook.sweep(nowMs);
    const c = this.config();
    if (!c.enabled) {
      if (this.routes.size > 0) this.reset();
      this.lastMs = null;
      return;
    }
    if (this.lastMs === null) {
      this.lastMs = nowMs;
      for (const r of this.prom.routeMetrics()) this.routes.set(r.name, { totals: readTotals(r), detectors: new Map() });
      return;
    }
    const elapsedMs = nowMs - this.lastMs;
    if (elapsedMs < c.windowMs) return;
    this.lastMs = nowMs;
    const seconds = elapsedMs / 1000;
    for (const r of this.prom.routeMetrics()) {
      const totals = readTotals(r);
      let state = this.routes.get(r.name);
      if (state === undefined) {
        // First seen since the last window: everything it counted happened within it.
        state = { totals: { opened: 0, abnormal: 0, http5xx: 0, buckets: new Float64Array(HTTP_BUCKETS_S.length), count: 0 }, detectors: new Map() };
        this.routes.set(r.name, state);
      }
      const before = state.totals;
      state.totals = totals;
      this.sample(r.name, state, 'new_connections', (totals.opened - before.opened) / seconds, nowMs, c);
      this.sample(r.name, state, 'abnormal_closes', (totals.abnormal - before.abnormal) / seconds, nowMs, c);
      this.sample(r.name, state, 'http_5xx', (totals.http5xx - before.http5xx) / seconds, nowMs, c);
      const p99 = p99OfWindow(totals, before);
      if (p99 !== null) this.sample(r.name, state, 'http_p99', p99, nowMs, c);
    }
  }

  /** The anomalies active now, for views. */
  active(): { route: string; signal: AnomalySignal }[] {
    const out: { route: string; signal: AnomalySignal }[] = [];
    for (const [route, s] of this.routes) for (const [signal, d] of s.detectors) if (d.active) out.push({ route, signal });
    return out;
  }

  private sample(route: string, state: RouteState, signal: AnomalySignal, value: number, nowMs: number, c: AnomalyConfig): void {
    let d = state.detectors.get(signal);
    if (d === undefined) {
      d = new AnomalyDetector(nowMs);
      state.detectors.set(signal, d);
    }
    const change = d.update(value, nowMs, {
      sigma: c.sigma,
      clearSigma: Math.min(2, c.sigma),
      forMs: c.forMs,
      warmupMs: c.warmupMs,
      windowMs: c.windowMs,
      minValue: ANOMALY_MIN_VALUE[signal],
    });
    if (change === null) return;
    const fields = {
      event: EVENTS.ANOMALY,
      route,
      signal,
      value: round(change.value),
      mean: round(change.mean),
      sigma: round(change.sd),
      since: new Date(change.sinceMs).toISOString(),
    };
    if (change.kind === 'raised') {
      this.prom.anomalyActive.labels(route, signal).set(1);
      this.log.warn(fields, 'anomaly');
    } else {
      this.prom.anomalyActive.labels(route, signal).set(0);
      this.log.info({ ...fields, cleared: true }, 'anomaly cleared');
    }
    if (c.webhook) this.webhook.send(c.webhook, { ...fields, cleared: change.kind === 'cleared', at: new Date(nowMs).toISOString() }, nowMs);
  }

  // Detection turned off by a reload: what was active reads 0 and the baselines start over.
  private reset(): void {
    for (const { route, signal } of this.active()) this.prom.anomalyActive.labels(route, signal).set(0);
    this.routes.clear();
  }
}

// The errno under fetch's TypeError (ECONNREFUSED, ENOTFOUND, …), or the error's name (TimeoutError).
function failureOf(err: unknown): string {
  if (!(err instanceof Error)) return 'error';
  const cause = err.cause as { code?: unknown } | undefined;
  return typeof cause?.code === 'string' ? cause.code : err.name;
}

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}
