// Balancer tests' targets: real ones, compiled from config as the gateway builds them. Nothing
// listens on their ports and picking never connects; each pool is closed when its test finishes.
import { onTestFinished } from 'vitest';
import { parseConfig } from '../../../../src/config/check.js';
import { compileConfig, type BalancePolicy, type UpstreamSpec } from '../../../../src/config/compile.js';
import { createBalancer } from '../../../../src/upstream/balancers/create.js';
import { UpstreamPool, type Balancer, type Target } from '../../../../src/upstream/pool.js';

// The i-th test target's origin.
export const originOf = (i: number): string => `http://127.0.0.1:${7000 + i}`;

// The upstream `app` with one target per weight, at originOf(i) unless `origins` names them.
export function upstreamOf(balance: BalancePolicy, weights: readonly number[], origins?: readonly string[]): UpstreamSpec {
  const targets = weights.map((weight, i) => ({ url: origins?.[i] ?? originOf(i), weight }));
  const config = parseConfig({
    upstreams: { app: { targets, balance } },
    routes: [{ name: 'app', match: { path: '/*' }, upstream: 'app' }],
  });
  return compileConfig(config).upstreams.get('app')!;
}

// A pool of `spec`, closed when the test finishes.
export function poolOf(spec: UpstreamSpec): UpstreamPool {
  const pool = new UpstreamPool(spec);
  onTestFinished(() => pool.close());
  return pool;
}

// The targets of a fresh upstream and a balancer of `balance` over them, as the pool makes it.
export function balancerOf(
  balance: BalancePolicy,
  weights: readonly number[],
  origins?: readonly string[],
): { targets: readonly Target[]; balancer: Balancer } {
  const spec = upstreamOf(balance, weights, origins);
  const targets = poolOf(spec).targets;
  return { targets, balancer: createBalancer(spec, targets) };
}
