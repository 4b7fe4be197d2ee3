import { expect, onTestFinished, test } from 'vitest';
import { parseConfig } from '../../../src/config/check.js';
import { compileConfig, type UpstreamSpec } from '../../../src/config/compile.js';
import { ManualClock } from '../../../src/core/clock.js';
import { UpstreamPool, type Target } from '../../../src/upstream/pool.js';

interface TargetInput {
  url: string;
  weight?: number;
  backup?: boolean;
}

// The upstream `app` as the gateway gets it: checked, then compiled. Nothing listens on these
// ports; picking a target never connects.
function specOf(targets: TargetInput[]): UpstreamSpec {
  const config = parseConfig({
    upstreams: { app: { targets } },
    routes: [{ name: 'app', match: { path: '/*' }, upstream: 'app' }],
  });
  return compileConfig(config).upstreams.get('app')!;
}

function newPool(targets: TargetInput[]): UpstreamPool {
  return new UpstreamPool(specOf(targets));
}

// A pool closed when the test finishes.
function poolOf(targets: TargetInput[]): UpstreamPool {
  const pool = newPool(targets);
  onTestFinished(() => pool.close());
  return pool;
}

function targetAt(pool: UpstreamPool, origin: string): Target {
  const t = pool.targets.find((x) => x.spec.origin === origin);
  if (t === undefined) throw new Error(`no target ${origin}`);
  return t;
}

// The origins of the next `n` picks (null when nothing was picked).
function picks(pool: UpstreamPool, n: number, exclude: Target | null = null): (string | null)[] {
  return Array.from({ length: n }, () => pool.pick(exclude)?.spec.origin ?? null);
}

const A = 'http://127.0.0.1:7001';
const B = 'http://127.0.0.1:7002';
const C = 'http://127.0.0.1:7003';
const BACKUP_1 = 'http://127.0.0.1:7101';
const BACKUP_2 = 'http://127.0.0.1:7102';

test('builds one target per configured URL, in order, with its weight and backup flag', () => {
  const pool = poolOf([{ url: A }, { url: B, weight: 3 }, { url: BACKUP_1, backup: true }]);
  expect(pool.name).toBe('app');
  expect(pool.targets.map((t) => ({ origin: t.spec.origin, weight: t.spec.weight, backup: t.spec.backup }))).toEqual([
    { origin: A, weight: 1, backup: false },
    { origin: B, weight: 3, backup: false },
    { origin: BACKUP_1, weight: 1, backup: true },
  ]);
  for (const t of pool.targets) expect(t.healthy).toBe(true);
});

test('takes equal-weight targets in turn', () => {
  const pool = poolOf([{ url: A }, { url: B }, { url: C }]);
  expect(picks(pool, 7)).toEqual([A, B, C, A, B, C, A]);
});

test('spreads picks by weight, smoothly: weights 5, 1, 1 give a, a, b, a, c, a, a in every round', () => {
  const pool = poolOf([{ url: A, weight: 5 }, { url: B }, { url: C }]);
  const round = [A, A, B, A, C, A, A];
  expect(picks(pool, 21)).toEqual([...round, ...round, ...round]);
});

test('never picks a backup target while a primary is healthy', () => {
  const pool = poolOf([{ url: BACKUP_1, backup: true }, { url: A }, { url: B, weight: 2 }]);
  const seen = picks(pool, 30);
  expect(seen).not.toContain(BACKUP_1);
  expect(seen.filter((o) => o === A)).toHaveLength(10);
  expect(seen.filter((o) => o === B)).toHaveLength(20);
});

test('skips unhealthy targets, and takes them back once healthy again', () => {
  const pool = poolOf([{ url: A }, { url: B }, { url: C }]);
  targetAt(pool, B).healthy = false;
  const seen = picks(pool, 6);
  expect(seen).not.toContain(B);
  expect(seen.filter((o) => o === A)).toHaveLength(3);
  expect(seen.filter((o) => o === C)).toHaveLength(3);

  targetAt(pool, B).healthy = true;
  expect(picks(pool, 9).filter((o) => o === B)).toHaveLength(3);
});

test('falls back to the first healthy backup target, in configured order, when no primary is healthy', () => {
  const pool = poolOf([{ url: A }, { url: BACKUP_1, backup: true }, { url: BACKUP_2, backup: true }]);
  targetAt(pool, A).healthy = false;
  expect(picks(pool, 3)).toEqual([BACKUP_1, BACKUP_1, BACKUP_1]);

  targetAt(pool, BACKUP_1).healthy = false;
  expect(picks(pool, 2)).toEqual([BACKUP_2, BACKUP_2]);

  targetAt(pool, A).healthy = true;
  expect(picks(pool, 2)).toEqual([A, A]);
});

test('answers null when no target at all is healthy', () => {
  const pool = poolOf([{ url: A }, { url: BACKUP_1, backup: true }]);
  for (const t of pool.targets) t.healthy = false;
  expect(pool.pick()).toBeNull();
});

test('pick(exclude) avoids the excluded target, so a retry goes elsewhere', () => {
  const pool = poolOf([{ url: A }, { url: B }, { url: C }]);
  const a = targetAt(pool, A);
  const seen = picks(pool, 12, a);
  expect(seen).not.toContain(A);
  expect(seen.filter((o) => o === B)).toHaveLength(6);
  expect(seen.filter((o) => o === C)).toHaveLength(6);
  // Without the exclusion, the excluded target is picked again.
  expect(picks(pool, 3)).toContain(A);
});

test('pick(exclude) moves on to a backup when the excluded target is the only healthy primary, and to nothing after that', () => {
  const pool = poolOf([{ url: A }, { url: BACKUP_1, backup: true }]);
  expect(pool.pick(targetAt(pool, A))?.spec.origin).toBe(BACKUP_1);

  const lone = poolOf([{ url: B }]);
  expect(lone.pick(targetAt(lone, B))).toBeNull();
  expect(lone.pick()?.spec.origin).toBe(B);
});

test('pick(exclude) skips an excluded backup too', () => {
  const pool = poolOf([{ url: A }, { url: BACKUP_1, backup: true }, { url: BACKUP_2, backup: true }]);
  targetAt(pool, A).healthy = false;
  expect(pool.pick(targetAt(pool, BACKUP_1))?.spec.origin).toBe(BACKUP_2);
});

test('close() resolves for plain and https:// targets alike', async () => {
  const pool = newPool([{ url: A }, { url: 'https://127.0.0.1:7443' }, { url: BACKUP_1, backup: true }]);
  await expect(pool.close()).resolves.toBeUndefined();
});

// A pool with slow start: ejection (passive.ts's way in) takes a target out, its end brings it back.
function slowStartPool(clock: ManualClock): UpstreamPool {
  const config = parseConfig({
    upstreams: { app: { targets: [{ url: A }, { url: B }], slowStart: '10s', passive: { consecutiveFailures: 1, ejectFor: '1s' } } },
    routes: [{ name: 'app', match: { path: '/*' }, upstream: 'app' }],
  });
  const pool = new UpstreamPool(compileConfig(config).upstreams.get('app')!, clock);
  onTestFinished(() => pool.close());
  return pool;
}

test('slowStart: a target back from an ejection starts at a tenth of its weight and ramps to all of it', () => {
  const clock = new ManualClock(100);
  const pool = slowStartPool(clock);
  const a = targetAt(pool, A);
  pool.eject(a, 1_000, 'ejected: test');
  expect(picks(pool, 4)).toEqual([B, B, B, B]);
  pool.eject(a, 0, '');
  expect(a.weight).toBeCloseTo(0.1);
  const share = (): number => picks(pool, 1_100).filter((o) => o === A).length;
  expect(share()).toBeLessThan(130); // about a tenth of B's share: 100 of 1,100
  clock.advance(5_000);
  expect(a.weight).toBeGreaterThan(0.5);
  expect(a.weight).toBeLessThan(0.6);
  clock.advance(5_000);
  expect(a.weight).toBe(1);
  expect(share()).toBe(550);
});

test('maxConnectionsPerTarget: a target with that many exchanges and tunnels is skipped; all full picks nothing', () => {
  const config = parseConfig({
    upstreams: { app: { targets: [{ url: A }, { url: B }], maxConnectionsPerTarget: 2 } },
    routes: [{ name: 'app', match: { path: '/*' }, upstream: 'app' }],
  });
  const pool = new UpstreamPool(compileConfig(config).upstreams.get('app')!);
  onTestFinished(() => pool.close());
  const a = targetAt(pool, A);
  const b = targetAt(pool, B);
  a.inFlight = 1;
  a.activeTunnels = 1;
  expect(picks(pool, 3)).toEqual([B, B, B]);
  b.activeTunnels = 2;
  expect(pool.pick()).toBeNull();
  expect(pool.retryAfterS).toBe(1);
});
