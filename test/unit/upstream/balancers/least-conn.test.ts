import { expect, test } from 'vitest';
import { createLeastConn } from '../../../../src/upstream/balancers/least-conn.js';
import type { Target } from '../../../../src/upstream/pool.js';
import { prng } from '../../../helpers/random.js';
import { balancerOf, originOf } from './targets.js';

function load(t: Target, inFlight: number, activeTunnels = 0): void {
  t.inFlight = inFlight;
  t.activeTunnels = activeTunnels;
}

// How many of `n` picks went to each target, in the targets' order.
function counts(targets: readonly Target[], n: number, random: () => number): number[] {
  const balancer = createLeastConn(random);
  const seen = targets.map(() => 0);
  for (let i = 0; i < n; i++) seen[targets.indexOf(balancer.pick(targets, null, null)!)]!++;
  return seen;
}

test('picks the target with the fewest HTTP exchanges and WebSocket tunnels together', () => {
  const { targets, balancer } = balancerOf('least_conn', [1, 1, 1]);
  load(targets[0]!, 2);
  load(targets[1]!, 0, 1);
  load(targets[2]!, 2, 1);
  expect(balancer.pick(targets, null, null)?.origin).toBe(originOf(1));
  load(targets[1]!, 0, 3);
  expect(balancer.pick(targets, null, null)?.origin).toBe(originOf(0));
});

test('divides each target\'s load by its weight', () => {
  const { targets, balancer } = balancerOf('least_conn', [4, 1]);
  load(targets[0]!, 6); // 1.5 per unit of weight
  load(targets[1]!, 2); // 2
  expect(balancer.pick(targets, null, null)?.origin).toBe(originOf(0));
  load(targets[0]!, 9); // 2.25
  expect(balancer.pick(targets, null, null)?.origin).toBe(originOf(1));
});

test('passes over a less loaded target that is unhealthy or excluded, to the next least loaded', () => {
  const { targets, balancer } = balancerOf('least_conn', [1, 1, 1]);
  load(targets[0]!, 0);
  load(targets[1]!, 1);
  load(targets[2]!, 5);
  expect(balancer.pick(targets, targets[0]!, null)?.origin).toBe(originOf(1));
  targets[0]!.healthy = false;
  expect(balancer.pick(targets, null, null)?.origin).toBe(originOf(1));
});

test('sends a burst of new exchanges to the least loaded targets until the loads even out', () => {
  const { targets, balancer } = balancerOf('least_conn', [1, 1, 1]);
  load(targets[0]!, 5);
  load(targets[2]!, 2);
  for (let i = 0; i < 10; i++) balancer.pick(targets, null, null)!.inFlight++;
  expect(targets.map((t) => t.inFlight).sort((x, y) => x - y)).toEqual([5, 6, 6]);
});

test('breaks ties at random, evenly among targets of equal weight', () => {
  const { targets } = balancerOf('least_conn', [1, 1, 1]);
  for (const t of targets) load(t, 1);
  for (const n of counts(targets, 3000, prng(7))) {
    expect(n).toBeGreaterThan(900);
    expect(n).toBeLessThan(1100);
  }
});

test('breaks ties in proportion to weight, so an idle upstream still follows the weights', () => {
  const { targets } = balancerOf('least_conn', [3, 1]);
  const [heavy, light] = counts(targets, 4000, prng(11));
  expect(heavy).toBeGreaterThan(2850);
  expect(light).toBeGreaterThan(850);
});
