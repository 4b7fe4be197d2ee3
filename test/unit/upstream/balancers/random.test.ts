import { expect, test } from 'vitest';
import { createRandom } from '../../../../src/upstream/balancers/random.js';
import type { Target } from '../../../../src/upstream/pool.js';
import { prng } from '../../../helpers/random.js';
import { balancerOf } from './targets.js';

const PICKS = 10_000;

// Each target's share of PICKS picks, in the targets' order.
function shares(targets: readonly Target[], seed: number): number[] {
  const balancer = createRandom(prng(seed));
  const seen = targets.map(() => 0);
  for (let i = 0; i < PICKS; i++) seen[targets.indexOf(balancer.pick(targets, null, null)!)]!++;
  return seen.map((n) => n / PICKS);
}

test('with equal loads, spreads picks in proportion to weight (each share within 10% of its due)', () => {
  const { targets } = balancerOf('random', [1, 2, 3, 4]);
  const seen = shares(targets, 3);
  [0.1, 0.2, 0.3, 0.4].forEach((due, i) => {
    expect(seen[i]).toBeGreaterThan(due * 0.9);
    expect(seen[i]).toBeLessThan(due * 1.1);
  });
});

test('takes the less loaded of its two picks: a busy target of two gets only the quarter of picks where both land on it', () => {
  const { targets } = balancerOf('random', [1, 1]);
  targets[0]!.inFlight = 10;
  const [busy] = shares(targets, 5);
  expect(busy).toBeGreaterThan(0.22);
  expect(busy).toBeLessThan(0.28);
});

test('compares the two picks by load per unit of weight', () => {
  const { targets } = balancerOf('random', [3, 1]);
  targets[0]!.inFlight = 3; // 1 per unit of weight
  targets[1]!.activeTunnels = 2; // 2
  // The small target wins only when both picks land on it: (1/4)².
  const [, small] = shares(targets, 9);
  expect(small).toBeGreaterThan(0.05);
  expect(small).toBeLessThan(0.075);
});
