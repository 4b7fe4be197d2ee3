// upstream/health: active checks against real upstreams on 127.0.0.1; time moves only through a
// ManualClock, and each check's result is awaited, never slept for.
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { expect, onTestFinished, test } from 'vitest';
import { parseConfig } from '../../../src/config/check.js';
import { compileConfig, type UpstreamSpec } from '../../../src/config/compile.js';
import { ManualClock } from '../../../src/core/clock.js';
import { HealthChecker, type CheckSink } from '../../../src/upstream/health.js';
import { UpstreamPool, type Target } from '../../../src/upstream/pool.js';
import { startHttpUpstream } from '../../helpers/servers.js';

interface Result {
  origin: string;
  result: string;
  failing: boolean;
  startedMs: number;
}

// A sink that keeps every result and hands them out in order.
class Results implements CheckSink {
  private readonly queue: Result[] = [];
  private waiter: ((r: Result) => void) | null = null;

  checked(target: Target, result: string, failing: boolean, startedMs: number): void {
    const r = { origin: target.spec.origin, result, failing, startedMs };
    const w = this.waiter;
    this.waiter = null;
    if (w !== null) w(r);
    else this.queue.push(r);
  }

  next(): Promise<Result> {
    const r = this.queue.shift();
    if (r !== undefined) return Promise.resolve(r);
    return new Promise((resolve) => (this.waiter = resolve));
  }
}

function specOf(urls: string[], healthCheck: Record<string, unknown>, extra: Record<string, unknown> = {}): UpstreamSpec {
  const config = parseConfig({
    upstreams: { app: { targets: urls.map((url) => ({ url })), healthCheck, ...extra } },
    routes: [{ name: 'app', match: { path: '/*' }, upstream: 'app' }],
  });
  return compileConfig(config).upstreams.get('app')!;
}

// A checker over the targets of `urls` with its own sink; the pool under it runs no checks itself.
function checkerOf(urls: string[], healthCheck: Record<string, unknown>, clock: ManualClock): { checker: HealthChecker; results: Results } {
  const spec = specOf(urls, healthCheck);
  const pool = new UpstreamPool({ ...spec, healthCheck: null }, clock);
  const results = new Results();
  const checker = new HealthChecker(pool.targets, spec.healthCheck!, clock, results);
  clock.add(checker);
  onTestFinished(async () => {
    clock.delete(checker);
    checker.close();
    await pool.close();
  });
  return { checker, results };
}

// A port nothing listens on: bound once, then closed.
async function closedPortUrl(): Promise<string> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

type Line = Record<string, unknown>;

// A logger whose lines the test reads; `waitFor` resolves with the first line (seen or to come) that matches.
function captureLogger(): { log: pino.Logger; lines: Line[]; waitFor: (match: (l: Line) => boolean) => Promise<Line> } {
  const lines: Line[] = [];
  const waiters: { match: (l: Line) => boolean; resolve: (l: Line) => void }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const text of chunk.toString('utf8').split('\n')) {
        if (text === '') continue;
        const line = JSON.parse(text) as Line;
        lines.push(line);
        for (let i = waiters.length - 1; i >= 0; i--) if (waiters[i]!.match(line)) waiters.splice(i, 1)[0]!.resolve(line);
      }
      cb();
    },
  });
  return {
    log: pino({ level: 'info' }, sink),
    lines,
    waitFor: (match) => {
      const seen = lines.find(match);
      return seen !== undefined ? Promise.resolve(seen) : new Promise((resolve) => waiters.push({ match, resolve }));
    },
  };
}

test('GETs healthCheck.path and calls a target failing after unhealthyAfter failed checks, passing after healthyAfter good ones', async () => {
  let status = 200;
  const paths: string[] = [];
  const up = await startHttpUpstream((req, res) => {
    paths.push(req.url ?? '');
    res.writeHead(status).end();
  });
  const clock = new ManualClock(100);
  const { results } = checkerOf([up.url], { path: '/status/live', interval: '1s', unhealthyAfter: 3, healthyAfter: 2 }, clock);

  const step = async (): Promise<Result> => {
    clock.advance(1100);
    return results.next();
  };
  expect(await step()).toMatchObject({ result: 'ok', failing: false });
  status = 500;
  expect(await step()).toMatchObject({ result: 'status 500', failing: false });
  expect(await step()).toMatchObject({ result: 'status 500', failing: false });
  expect(await step()).toMatchObject({ result: 'status 500', failing: true });
  status = 204;
  expect(await step()).toMatchObject({ result: 'ok', failing: true });
  expect(await step()).toMatchObject({ result: 'ok', failing: false });
  expect(new Set(paths)).toEqual(new Set(['/status/live']));
});

test('a check with no answer within healthCheck.timeout fails as "timeout"; a closed port as "refused"', async () => {
  const hanging = await startHttpUpstream(() => undefined); // never answers
  const refused = await closedPortUrl();
  const clock = new ManualClock(100);
  const { results } = checkerOf([hanging.url, refused], { interval: '5s', timeout: '2s', unhealthyAfter: 1 }, clock);

  clock.advance(100); // both checks start on the first tick
  expect(await results.next()).toEqual({ origin: refused, result: 'refused', failing: true, startedMs: 100 });
  if (hanging.requests.length === 0) await once(hanging.server, 'request');
  clock.advance(1900); // 2 s after the check began, less one tick
  clock.advance(100);
  expect(await results.next()).toEqual({ origin: hanging.url, result: 'timeout', failing: true, startedMs: 100 });
});

test('expectStatus decides what passes: with "200-399", a 302 passes and a 404 does not', async () => {
  let status = 302;
  const up = await startHttpUpstream((_req, res) => res.writeHead(status, { location: '/' }).end());
  const clock = new ManualClock(100);
  const { results } = checkerOf([up.url], { interval: '1s', unhealthyAfter: 1, expectStatus: '200-399' }, clock);
  clock.advance(100);
  expect(await results.next()).toMatchObject({ result: 'ok', failing: false });
  status = 404;
  clock.advance(1100);
  expect(await results.next()).toMatchObject({ result: 'status 404', failing: true });
});

test('checks come every interval ±10% (jitter), never two at once to a target', async () => {
  const up = await startHttpUpstream((_req, res) => res.end('ok'));
  const clock = new ManualClock(10);
  const { results } = checkerOf([up.url], { interval: '1s', timeout: '5s' }, clock);
  clock.advance(10);
  let now = 10;
  const starts = [(await results.next()).startedMs];
  for (let i = 0; i < 30; i++) {
    // Up to the latest the next check may start (1.1 intervals and a tick after the last): a check
    // still in flight holds the next one back, so each advance starts exactly one.
    const until = starts.at(-1)! + 1110;
    clock.advance(until - now);
    now = until;
    starts.push((await results.next()).startedMs);
  }
  const gaps = starts.slice(1).map((s, i) => s - starts[i]!);
  for (const gap of gaps) {
    expect(gap).toBeGreaterThanOrEqual(900 - 10);
    expect(gap).toBeLessThanOrEqual(1100 + 10);
  }
  expect(new Set(gaps).size).toBeGreaterThan(1);
  expect(up.requests).toHaveLength(31);
});

test('the pool logs upstream_health on each flip, with the reason and the previous state, and stops checking once closed', async () => {
  let status = 503;
  const up = await startHttpUpstream((_req, res) => res.writeHead(status).end());
  const clock = new ManualClock(100);
  const { log, lines, waitFor } = captureLogger();
  const spec = specOf([up.url], { interval: '1s', unhealthyAfter: 1, healthyAfter: 1 });
  const pool = new UpstreamPool(spec, clock, { log, targetDown: () => undefined });
  onTestFinished(() => pool.close());
  const target = pool.targets[0]!;
  const health = (): Record<string, unknown>[] => lines.filter((l) => l.event === 'upstream_health');

  clock.advance(100);
  await waitFor((l) => l.event === 'upstream_health');
  expect(health()).toEqual([
    expect.objectContaining({ upstream: 'app', target: up.url, healthy: false, reason: 'status 503', source: 'active', previous: { healthy: true, reason: 'ok' } }),
  ]);
  expect(target).toMatchObject({ healthy: false, healthReason: 'status 503', lastCheckResult: 'status 503', lastCheckAtMs: 100 });

  status = 200;
  clock.advance(1100);
  await waitFor((l) => l.event === 'upstream_health' && l.healthy === true);
  expect(health()[1]).toMatchObject({ healthy: true, reason: 'ok', previous: { healthy: false, reason: 'status 503' } });
  expect(target.healthy).toBe(true);

  await pool.close();
  const seen = up.requests.length;
  clock.advance(10_000);
  // Our own request arrives after any check the advance would have started.
  await fetch(up.url);
  expect(up.requests).toHaveLength(seen + 1);
});
