// upstream/balancers/random: `balance: random`, the power of two choices: two weighted random
// picks, and the less loaded of the two. Nearly as even as least_conn, without every gateway
// instance herding onto the same least loaded target, and without looking at every target's load.
import type { ExchangeTarget } from '../../core/exchange.js';
import { usable, type Balancer, type Target } from '../pool.js';

// `random` is injectable so that tests replay the same picks.
export function createRandom(random: () => number = Math.random): Balancer {
  return {
    // HOT: per request; no allocation.
    pick(list: readonly Target[], exclude: ExchangeTarget | null): Target | null {
      let total = 0;
      for (let i = 0; i < list.length; i++) {
        const t = list[i]!;
        if (usable(t, exclude)) total += t.weight;
      }
      if (total === 0) return null;
      const a = weightedAt(list, exclude, random() * total);
      const b = weightedAt(list, exclude, random() * total);
      // Load per unit of weight, cross-multiplied to stay in integers. On a tie the first pick
      // stands, so equally loaded targets are chosen in proportion to their weights.
      return (b.inFlight + b.activeTunnels) * a.weight < (a.inFlight + a.activeTunnels) * b.weight ? b : a;
    },
  };
}

// HOT: per request. The usable target whose weight span holds `at` (0 <= at < total usable weight).
function weightedAt(list: readonly Target[], exclude: ExchangeTarget | null, at: number): Target {
  let last: Target | null = null;
  for (let i = 0; i < list.length; i++) {
    const t = list[i]!;
    if (!usable(t, exclude)) continue;
    at -= t.weight;
    if (at < 0) return t;
    last = t;
  }
  // Only reached when random() * total rounded up to total: the last usable target's span.
  return last!;
}
