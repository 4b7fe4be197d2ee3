// upstream/balancers/create: the one place where an upstream's `balance` policy becomes a balancer.
import type { UpstreamSpec } from '../../config/compile.js';
import type { Balancer, Target } from '../pool.js';
import { createHashRing } from './hash.js';
import { createLeastConn } from './least-conn.js';
import { createRandom } from './random.js';
import { createRoundRobin } from './round-robin.js';

// `targets`: the list the pool will pass to every pick; round robin and the hash ring index into it.
export function createBalancer(spec: UpstreamSpec, targets: readonly Target[]): Balancer {
  switch (spec.balance) {
    case 'round_robin':
      return createRoundRobin(targets);
    case 'least_conn':
      return createLeastConn();
    case 'random':
      return createRandom();
    case 'hash':
      return createHashRing(targets);
  }
}
