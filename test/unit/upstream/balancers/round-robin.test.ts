import { expect, test } from 'vitest';
import type { Balancer, Target } from '../../../../src/upstream/pool.js';
import { balancerOf, originOf } from './targets.js';

const [A, B, C] = [originOf(0), originOf(1), originOf(2)];

function picks(balancer: Balancer, targets: readonly Target[], n: number): (string | null)[] {
  return Array.from({ length: n }, () => balancer.pick(targets, null, null)?.origin ?? null);
}

test('weights 5, 1, 1 give a, a, b, a, c, a, a in every round, never five a in a row', () => {
  const { targets, balancer } = balancerOf('round_robin', [5, 1, 1]);
  const round = [A, A, B, A, C, A, A];
  expect(picks(balancer, targets, 21)).toEqual([...round, ...round, ...round]);
});

test('an unhealthy target\'s turns go to the others, in their weights', () => {
  const { targets, balancer } = balancerOf('round_robin', [5, 2, 1]);
  targets[0]!.healthy = false;
  const seen = picks(balancer, targets, 30);
  expect(seen.filter((o) => o === B)).toHaveLength(20);
  expect(seen.filter((o) => o === C)).toHaveLength(10);
});
