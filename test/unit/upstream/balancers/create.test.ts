import { expect, test } from 'vitest';
import type { UpstreamPool } from '../../../../src/upstream/pool.js';
import { originOf, poolOf, upstreamOf } from './targets.js';

// Through the pool, as the relay calls it: each `balance` value reaches its policy.

function originsPicked(pool: UpstreamPool, n: number, hashKey: string | null = null): (string | null)[] {
  return Array.from({ length: n }, () => pool.pick(null, { hashKey, stickyId: null })?.origin ?? null);
}

test('balance: round_robin takes targets in turn', () => {
  const pool = poolOf(upstreamOf('round_robin', [1, 1]));
  expect(originsPicked(pool, 4)).toEqual([originOf(0), originOf(1), originOf(0), originOf(1)]);
});

test('balance: least_conn sends the request to the least loaded target', () => {
  const pool = poolOf(upstreamOf('least_conn', [1, 1, 1]));
  pool.targets[0]!.inFlight = 3;
  pool.targets[1]!.activeTunnels = 1;
  pool.targets[2]!.inFlight = 2;
  expect(originsPicked(pool, 1)).toEqual([originOf(1)]);
});

test('balance: random sends fewer requests to the busier of two targets', () => {
  const pool = poolOf(upstreamOf('random', [1, 1]));
  pool.targets[0]!.inFlight = 100;
  // Round robin would give it 200 of 400; two choices give it the quarter where both land on it.
  expect(originsPicked(pool, 400).filter((o) => o === originOf(0)).length).toBeLessThan(150);
});

test('balance: hash keeps each key on one target, and spreads different keys', () => {
  const pool = poolOf(upstreamOf('hash', [1, 1, 1]));
  for (const key of ['alice', 'bob', 'carol']) expect(new Set(originsPicked(pool, 5, key)).size).toBe(1);
  const spread = new Set(Array.from({ length: 100 }, (_, i) => pool.pick(null, { hashKey: `user-${i}`, stickyId: null })?.origin));
  expect(spread.size).toBe(3);
});
