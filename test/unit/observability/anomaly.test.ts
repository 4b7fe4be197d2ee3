// AnomalyDetector and AnomalyMonitor with time moved by hand (issue 10, item 5).
import { expect, test } from 'vitest';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { ManualClock } from '../../../src/core/clock.js';
import { AnomalyDetector, AnomalyMonitor, p99OfWindow, type AnomalyChange, type AnomalyConfig, type AnomalyOptions } from '../../../src/observability/anomaly.js';
import { GatewayMetrics, HTTP_BUCKETS_S } from '../../../src/observability/metrics.js';

const WINDOW = 5000;
const OPTIONS: AnomalyOptions = { sigma: 4, clearSigma: 2, forMs: 30_000, warmupMs: 300_000, windowMs: WINDOW, minValue: 1 };

// A deterministic noise around 10/s: 8 .. 12.
function steady(i: number): number {
  return 10 + 2 * Math.sin(i * 1.7);
}

// Feeds `values` one per window from `fromMs`; returns every change with the time it happened.
function feed(d: AnomalyDetector, fromMs: number, values: readonly number[]): { atMs: number; change: AnomalyChange }[] {
  const out: { atMs: number; change: AnomalyChange }[] = [];
  values.forEach((v, i) => {
    const atMs = fromMs + i * WINDOW;
    const change = d.update(v, atMs, OPTIONS);
    if (change !== null) out.push({ atMs, change });
  });
  return out;
}

const range = (n: number, f: (i: number) => number): number[] => Array.from({ length: n }, (_, i) => f(i));

// A detector past its warmup, with a baseline of steady noise; returns it and the next sample time.
function warmed(): { d: AnomalyDetector; nextMs: number } {
  const d = new AnomalyDetector(0);
  const n = 100; // 500 s: past the 300 s warmup
  expect(feed(d, 0, range(n, steady))).toEqual([]);
  return { d, nextMs: n * WINDOW };
}

test('steady noise raises nothing, for an hour', () => {
  const d = new AnomalyDetector(0);
  expect(feed(d, 0, range(720, steady))).toEqual([]);
  expect(d.mean).toBeGreaterThan(9);
  expect(d.mean).toBeLessThan(11);
  expect(d.sd).toBeGreaterThan(0.5);
});

test('a spike sustained for `for` raises once, since its first deviating window', () => {
  const { d, nextMs } = warmed();
  const changes = feed(d, nextMs, range(20, () => 100));
  expect(changes).toHaveLength(1);
  const [{ atMs, change }] = changes as [{ atMs: number; change: AnomalyChange }];
  expect(change.kind).toBe('raised');
  expect(change.value).toBe(100);
  expect(change.sinceMs).toBe(nextMs);
  expect(atMs).toBe(nextMs + OPTIONS.forMs);
  expect(change.mean).toBeGreaterThan(9);
  expect(change.mean).toBeLessThan(11);
  expect(d.active).toBe(true);
});

test('a spike shorter than `for` raises nothing', () => {
  const { d, nextMs } = warmed();
  // 25 s of spike (5 windows: 0..20 s after the first), then normal, twice.
  const values = [...range(5, () => 100), ...range(10, steady), ...range(5, () => 100), ...range(10, steady)];
  expect(feed(d, nextMs, values)).toEqual([]);
  expect(d.active).toBe(false);
});

test('a value above the sigmas but below the minimum raises nothing', () => {
  const d = new AnomalyDetector(0);
  expect(feed(d, 0, range(100, () => 0))).toEqual([]); // sd 0
  expect(feed(d, 100 * WINDOW, range(20, () => 0.5))).toEqual([]);
  expect(feed(d, 120 * WINDOW, range(20, () => 2)).map((c) => c.change.kind)).toEqual(['raised']);
});

test('it clears after the signal is back within mean + 2 sigma for `for`', () => {
  const { d, nextMs } = warmed();
  const raised = feed(d, nextMs, range(10, () => 100));
  expect(raised.map((c) => c.change.kind)).toEqual(['raised']);
  const back = nextMs + 10 * WINDOW;
  // One good window, a relapse (the clearing restarts), then normal for good.
  expect(feed(d, back, [10, 100])).toEqual([]);
  const cleared = feed(d, back + 2 * WINDOW, range(20, (i) => steady(i)));
  expect(cleared).toHaveLength(1);
  expect(cleared[0]!.change.kind).toBe('cleared');
  expect(cleared[0]!.change.sinceMs).toBe(raised[0]!.change.sinceMs);
  expect(cleared[0]!.atMs).toBe(back + 2 * WINDOW + OPTIONS.forMs);
  expect(d.active).toBe(false);
  // The baseline did not learn the spike.
  expect(d.mean).toBeLessThan(11);
});

test('nothing during the warmup, however large the spike', () => {
  const d = new AnomalyDetector(0);
  const values = [...range(20, steady), ...range(30, () => 1000)]; // 250 s, all within the 300 s warmup
  expect(feed(d, 0, values)).toEqual([]);
  expect(d.active).toBe(false);
});

test('p99 of a window is the bound of the bucket holding the 99th percentile', () => {
  const zero = { opened: 0, abnormal: 0, http5xx: 0, buckets: new Float64Array(HTTP_BUCKETS_S.length), count: 0 };
  const now = { ...zero, buckets: new Float64Array(HTTP_BUCKETS_S.length), count: 100 };
  now.buckets[2] = 98; // ≤ 5 ms
  now.buckets[8] = 2;  // ≤ 500 ms
  expect(p99OfWindow(now, zero)).toBe(0.5);
  now.buckets[8] = 1;
  now.buckets[2] = 99;
  expect(p99OfWindow(now, zero)).toBe(0.005);
  expect(p99OfWindow({ ...now, count: 10 }, zero)).toBeNull(); // too few to say
});

// The monitor on a ManualClock, reading RouteMetrics as the request paths fill them.
function monitorSetup(config: AnomalyConfig): { clock: ManualClock; prom: GatewayMetrics; logs: Record<string, unknown>[] } {
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const log = pino({ level: 'info', formatters: { level: (label) => ({ level: label }) } }, sink);
  const prom = new GatewayMetrics({ defaultMetrics: false, upstreams: () => [], tunnels: () => [], wsRoutes: () => [] });
  const clock = new ManualClock(1000);
  clock.add(new AnomalyMonitor(prom, log, () => config));
  return { clock, prom, logs };
}

test('the monitor raises http_5xx from the route counters and sets the gauge, then clears it', async () => {
  const config = { enabled: true, sigma: 4, forMs: 3000, warmupMs: 10_000, windowMs: 1000 };
  const { clock, prom, logs } = monitorSetup(config);
  const r = prom.route('api');
  const windows = (n: number, status: number): void => {
    for (let w = 0; w < n; w++) {
      for (let i = 0; i < 5; i++) prom.httpFinished(r, 'GET', status, 0.002);
      clock.advance(1000);
    }
  };
  windows(15, 200);
  expect(logs).toEqual([]);
  await prom.text(); // a scrape in between moves the pending counts on; the totals stay right
  windows(3, 500);
  expect(logs).toEqual([]);
  windows(1, 500);
  const anomalies = logs.filter((l) => l.event === 'anomaly');
  expect(anomalies).toHaveLength(1);
  expect(anomalies[0]).toMatchObject({ level: 'warn', route: 'api', signal: 'http_5xx', value: 5, mean: 0, sigma: 0 });
  expect(await prom.text()).toContain('wsgate_anomaly_active{route="api",signal="http_5xx"} 1');
  windows(10, 500);
  expect(logs.filter((l) => l.event === 'anomaly')).toHaveLength(1);
  windows(3, 200);
  expect(logs.filter((l) => l.cleared === true)).toEqual([]);
  windows(1, 200);
  const cleared = logs.filter((l) => l.cleared === true);
  expect(cleared).toHaveLength(1);
  expect(cleared[0]).toMatchObject({ event: 'anomaly', level: 'info', route: 'api', signal: 'http_5xx', value: 0, since: anomalies[0]!.since });
  expect(await prom.text()).toContain('wsgate_anomaly_active{route="api",signal="http_5xx"} 0');
});

test('a disabled monitor raises nothing', () => {
  const config = { enabled: false, sigma: 4, forMs: 3000, warmupMs: 10_000, windowMs: 1000 };
  const { clock, prom, logs } = monitorSetup(config);
  const r = prom.route('api');
  for (let w = 0; w < 40; w++) {
    for (let i = 0; i < 5; i++) prom.httpFinished(r, 'GET', w < 15 ? 200 : 500, 0.002);
    clock.advance(1000);
  }
  expect(logs).toEqual([]);
});
