// upstream/passive: outlier detection from reported outcomes. Nothing listens on the targets'
// ports: outcomes are reported as the relay would, and time moves through a ManualClock.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { expect, onTestFinished, test } from 'vitest';
import { parseConfig } from '../../../src/config/check.js';
import { compileConfig } from '../../../src/config/compile.js';
import { ManualClock } from '../../../src/core/clock.js';
import { UpstreamPool, type Target } from '../../../src/upstream/pool.js';

const A = 'http://127.0.0.1:7001';
const B = 'http://127.0.0.1:7002';
const BACKUP = 'http://127.0.0.1:7101';

interface Setup {
  pool: UpstreamPool;
  clock: ManualClock;
  lines: Record<string, unknown>[];
  at: (origin: string) => Target;
}

// `passive` as in the config; the clock ticks every 100 ms.
function poolOf(passive: Record<string, unknown>, targets: { url: string; backup?: boolean }[] = [{ url: A }, { url: B }]): Setup {
  const config = parseConfig({
    upstreams: { app: { targets, passive } },
    routes: [{ name: 'app', match: { path: '/*' }, upstream: 'app' }],
  });
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const clock = new ManualClock(100);
  const pool = new UpstreamPool(compileConfig(config).upstreams.get('app')!, clock, { log: pino({ level: 'info' }, sink), targetDown: () => undefined });
  onTestFinished(() => pool.close());
  const at = (origin: string): Target => pool.targets.find((t) => t.spec.origin === origin)!;
  return { pool, clock, lines, at };
}

function fail(t: Target, times: number, failure = 'status 502'): void {
  for (let i = 0; i < times; i++) t.report(failure);
}

test('ejects a target after consecutiveFailures failures in a row, and a success in between resets the count', () => {
  const { pool, at, lines } = poolOf({ consecutiveFailures: 3, ejectFor: '10s' });
  const a = at(A);
  fail(a, 2);
  a.report(null);
  fail(a, 2, 'timeout');
  expect(a.healthy).toBe(true);

  fail(a, 1, 'refused');
  expect(a).toMatchObject({ healthy: false, healthReason: 'ejected: 3 consecutive failures (last: refused)', ejectedUntilMs: 10_000 });
  expect(lines.filter((l) => l.event === 'upstream_health')).toEqual([
    expect.objectContaining({ upstream: 'app', target: A, healthy: false, source: 'passive', reason: 'ejected: 3 consecutive failures (last: refused)', previous: { healthy: true, reason: 'ok' } }),
  ]);
  expect(Array.from({ length: 4 }, () => pool.pick()?.spec.origin)).toEqual([B, B, B, B]);
});

test('an ejection ends by itself after ejectFor, on the clock', () => {
  const { clock, at, lines } = poolOf({ consecutiveFailures: 1, ejectFor: '2s' });
  const a = at(A);
  fail(a, 1);
  clock.advance(1900);
  expect(a.healthy).toBe(false);
  clock.advance(100);
  expect(a).toMatchObject({ healthy: true, healthReason: 'ok', ejectedUntilMs: 0 });
  expect(lines.filter((l) => l.event === 'upstream_health').at(-1)).toMatchObject({ healthy: true, source: 'passive', previous: { healthy: false } });
});

test('a repeat offender is ejected twice as long each time, up to maxEjectFor; a reformed one starts over', () => {
  const { clock, at } = poolOf({ consecutiveFailures: 1, ejectFor: '1s', maxEjectFor: '3s' });
  const a = at(A);
  const ejection = (): number => {
    const from = clock.nowMs;
    fail(a, 1);
    const length = a.ejectedUntilMs - from;
    clock.advance(length);
    expect(a.healthy).toBe(true);
    return length;
  };
  expect([ejection(), ejection(), ejection(), ejection()]).toEqual([1000, 2000, 3000, 3000]);
  // Longer than maxEjectFor without an ejection: back to ejectFor.
  clock.advance(3100);
  expect(ejection()).toBe(1000);
});

test('never ejects the last healthy primary target unless ejectLast', () => {
  const kept = poolOf({ consecutiveFailures: 2 }, [{ url: A }, { url: B }, { url: BACKUP, backup: true }]);
  fail(kept.at(A), 2);
  expect(kept.at(A).healthy).toBe(false);
  fail(kept.at(B), 10);
  expect(kept.at(B).healthy).toBe(true);
  expect(kept.pool.pick()?.spec.origin).toBe(B);

  const ejected = poolOf({ consecutiveFailures: 2, ejectLast: true }, [{ url: A }, { url: BACKUP, backup: true }]);
  fail(ejected.at(A), 2);
  expect(ejected.at(A).healthy).toBe(false);
  expect(ejected.pool.pick()?.spec.origin).toBe(BACKUP);
  expect(ejected.lines.filter((l) => l.failover !== undefined)).toEqual([expect.objectContaining({ event: 'upstream_health', upstream: 'app', failover: 'backup', healthyBackups: 1 })]);
});

test('outcomes of exchanges still in flight when a target was ejected change nothing', () => {
  const { clock, at } = poolOf({ consecutiveFailures: 1, ejectFor: '1s' });
  const a = at(A);
  fail(a, 1);
  fail(a, 5);
  a.report(null);
  expect(a.ejectedUntilMs).toBe(1000);
  clock.advance(1000);
  expect(a.healthy).toBe(true);
});

test('slow start: a target back from an ejection ramps from a tenth of its weight to all of it over slowStart', () => {
  const config = parseConfig({
    upstreams: { app: { targets: [{ url: A, weight: 10 }, { url: B }], passive: { consecutiveFailures: 1, ejectFor: '1s' }, slowStart: '10s' } },
    routes: [{ name: 'app', match: { path: '/*' }, upstream: 'app' }],
  });
  const clock = new ManualClock(100);
  const pool = new UpstreamPool(compileConfig(config).upstreams.get('app')!, clock);
  onTestFinished(() => pool.close());
  const a = pool.targets[0]!;
  expect(a.effectiveWeight(clock.nowMs)).toBe(10); // healthy from the start: no ramp
  a.report('reset');
  clock.advance(1000);
  expect(a.healthy).toBe(true);
  const back = clock.nowMs;
  expect(a.effectiveWeight(back)).toBeCloseTo(1);
  expect(a.effectiveWeight(back + 5000)).toBeCloseTo(5.5);
  expect(a.effectiveWeight(back + 10_000)).toBe(10);
});
