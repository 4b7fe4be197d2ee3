// upstream/balancers/least-conn: `balance: least_conn`, the usable target with the fewest open
// exchanges and tunnels per unit of weight (nginx least_conn); ties go to one of them at random.
import type { ExchangeTarget } from '../../core/exchange.js';
import { usable, type Balancer, type Target } from '../pool.js';

// `random` is injectable so that tests replay the same tie-breaks.
export function createLeastConn(random: () => number = Math.random): Balancer {
  return {
    // HOT: per request; no allocation.
    pick(list: readonly Target[], exclude: ExchangeTarget | null): Target | null {
      let best: Target | null = null;
      let bestLoad = 0;
      let bestWeight = 1;
      let tieWeight = 0;
      for (let i = 0; i < list.length; i++) {
        const t = list[i]!;
        if (!usable(t, exclude)) continue;
        const load = t.inFlight + t.activeTunnels;
        const weight = t.weight;
        // load / weight against bestLoad / bestWeight, cross-multiplied: whole weights compare exactly,
        // where the quotients could round two equal loads apart.
        const diff = best === null ? -1 : load * bestWeight - bestLoad * weight;
        if (diff < 0) {
          best = t;
          bestLoad = load;
          bestWeight = weight;
          tieWeight = weight;
        } else if (diff === 0) {
          // Weighted reservoir sampling: each tied target ends up chosen with probability
          // weight / (weights of all tied), in one pass. Weighted, because an idle upstream has
          // every target tied at 0 and a uniform choice would then ignore the weights.
          tieWeight += weight;
          if (random() * tieWeight < weight) best = t;
        }
      }
      return best;
    },
  };
}
