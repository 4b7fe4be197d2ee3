// upstream/balancers/round-robin: smooth weighted round robin (nginx's algorithm): weights 5,1,1
// give a,a,b,a,c,a,a rather than a burst of five a's.
import type { ExchangeTarget } from '../../core/exchange.js';
import { usable, type Balancer, type Target } from '../pool.js';

export function createRoundRobin(targets: readonly Target[]): Balancer {
  const current = new Float64Array(targets.length);
  return {
    // HOT: per request; no allocation.
    pick(list: readonly Target[], exclude: ExchangeTarget | null): Target | null {
      let best = -1;
      let total = 0;
      for (let i = 0; i < list.length; i++) {
        const t = list[i]!;
        if (!usable(t, exclude)) continue;
        current[i]! += t.weight;
        total += t.weight;
        if (best === -1 || current[i]! > current[best]!) best = i;
      }
      if (best === -1) return null;
      current[best]! -= total;
      return list[best]!;
    },
  };
}
