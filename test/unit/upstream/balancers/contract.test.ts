import { describe, expect, test } from 'vitest';
import type { BalancePolicy } from '../../../../src/config/compile.js';
import { createBalancer } from '../../../../src/upstream/balancers/create.js';
import type { Balancer, Target } from '../../../../src/upstream/pool.js';
import { balancerOf, upstreamOf } from './targets.js';

// What every balancer owes the pool, whatever its policy; hash runs both with and without a key
// (a request that lacks the header, cookie or parameter it hashes).
const policies: { name: string; balance: BalancePolicy; keyOf: (i: number) => string | null }[] = [
  { name: 'round_robin', balance: 'round_robin', keyOf: () => null },
  { name: 'least_conn', balance: 'least_conn', keyOf: () => null },
  { name: 'random', balance: 'random', keyOf: () => null },
  { name: 'hash with a key', balance: 'hash', keyOf: (i) => `client-${i}` },
  { name: 'hash without a key', balance: 'hash', keyOf: () => null },
];

const PICKS = 300;

describe.each(policies)('$name', ({ balance, keyOf }) => {
  // The origins picked over PICKS requests (null when nothing was picked).
  function picks(balancer: Balancer, targets: readonly Target[], exclude: Target | null = null): (string | null)[] {
    return Array.from({ length: PICKS }, (_, i) => balancer.pick(targets, exclude, keyOf(i))?.origin ?? null);
  }
  const origins = (targets: readonly (Target | undefined)[]): Set<string> => new Set(targets.map((t) => t!.origin));

  test('picks only targets of the list it is given, and each of them sooner or later', () => {
    const { targets, balancer } = balancerOf(balance, [1, 2, 1]);
    expect(new Set(picks(balancer, targets))).toEqual(origins(targets));
  });

  test('never picks an unhealthy target', () => {
    const { targets, balancer } = balancerOf(balance, [1, 2, 1]);
    targets[1]!.healthy = false;
    expect(new Set(picks(balancer, targets))).toEqual(origins([targets[0], targets[2]]));
  });

  test('never picks the excluded target', () => {
    const { targets, balancer } = balancerOf(balance, [1, 2, 1]);
    expect(new Set(picks(balancer, targets, targets[1]))).toEqual(origins([targets[0], targets[2]]));
  });

  test('takes a target back once it is healthy again', () => {
    const { targets, balancer } = balancerOf(balance, [1, 1, 1]);
    targets[0]!.healthy = false;
    expect(picks(balancer, targets)).not.toContain(targets[0]!.origin);
    targets[0]!.healthy = true;
    expect(picks(balancer, targets)).toContain(targets[0]!.origin);
  });

  test('answers null when no target is healthy', () => {
    const { targets, balancer } = balancerOf(balance, [1, 2, 1]);
    for (const t of targets) t.healthy = false;
    expect(new Set(picks(balancer, targets))).toEqual(new Set([null]));
  });

  test('answers null when the only healthy target is the excluded one', () => {
    const { targets, balancer } = balancerOf(balance, [1, 2, 1]);
    targets[0]!.healthy = false;
    targets[2]!.healthy = false;
    expect(new Set(picks(balancer, targets, targets[1]))).toEqual(new Set([null]));
  });

  test('answers null when the upstream has no primary target (backups only)', () => {
    const balancer = createBalancer(upstreamOf(balance, [1]), []);
    expect(balancer.pick([], null, keyOf(0))).toBeNull();
  });
});
