// server/runtime: the compiled config as requests use it, swapped as one reference: the matcher,
// each route with its pool, middleware chain and metrics resolved once, and the upstream pools
// (carried over by a reload when their upstream is unchanged).
import type { CompiledConfig, RouteSpec } from '../config/compile.js';
import type { Clock } from '../core/clock.js';
import type { Middleware } from '../middleware/chain.js';
import type { GatewayMetrics, RouteMetrics } from '../observability/metrics.js';
import { createMatcher, type Matcher } from '../routing/matcher.js';
import { UpstreamPool, type PoolEvents } from '../upstream/pool.js';
import type { Edge } from './edge.js';

// One route of the running config, with what it needs at request time resolved once.
export interface RouteRuntime {
  readonly spec: RouteSpec;
  readonly pool: UpstreamPool | null;
  readonly chain: readonly Middleware[] | null;   // null: no middleware (built-in or used), the fast path
  readonly info: { readonly name: string; readonly upstream: string | null };
  // Taken on the route's first request (a route's metrics appear once it has traffic), then
  // kept here so a request never looks its route up by name.
  metrics: RouteMetrics | null;
}

export interface Runtime {
  readonly config: CompiledConfig;
  readonly matcher: Matcher<RouteRuntime>;
  readonly pools: ReadonlyMap<string, UpstreamPool>;
  readonly edge: Edge;
}

// Middleware registered with Gateway.use(): global, then per route name.
export interface MiddlewareSet {
  readonly global: readonly Middleware[];
  readonly byRoute: ReadonlyMap<string, readonly Middleware[]>;
}

export function buildRuntime(config: CompiledConfig, middleware: MiddlewareSet, pools: ReadonlyMap<string, UpstreamPool>, edge: Edge): Runtime {
  const entries = config.routes.map((spec) => {
    const own = middleware.byRoute.get(spec.name) ?? [];
    const builtin = edge.middlewareFor(spec);
    const chain = builtin.length + middleware.global.length + own.length === 0 ? null : [...builtin, ...middleware.global, ...own];
    const route: RouteRuntime = {
      spec,
      pool: spec.upstream === null ? null : pools.get(spec.upstream) ?? null,
      chain,
      info: Object.freeze({ name: spec.name, upstream: spec.upstream }),
      metrics: null,
    };
    return { host: spec.host, path: spec.path, methods: spec.methods, value: route };
  });
  return { config, matcher: createMatcher(entries), pools, edge };
}

// HOT: per request (a null check after the route's first).
export function routeMetrics(prom: GatewayMetrics, route: RouteRuntime): RouteMetrics {
  return (route.metrics ??= prom.route(route.spec.name));
}

// The routes a WebSocket can reach (every proxying route): their active-tunnels gauge reads 0 from the start.
export function* wsRouteNames(rt: Runtime): Generator<string> {
  for (const r of rt.config.routes) if (r.upstream !== null) yield r.name;
}

export function createPools(config: CompiledConfig, clock: Clock | null, events: PoolEvents | null): Map<string, UpstreamPool> {
  return new Map([...config.upstreams].map(([name, spec]) => [name, new UpstreamPool(spec, clock, events)]));
}

// Pools whose upstream is unchanged carry over (warm connections, counters); the others are new.
export function carryPools(old: ReadonlyMap<string, UpstreamPool>, config: CompiledConfig, clock: Clock | null, events: PoolEvents | null): Map<string, UpstreamPool> {
  const pools = new Map<string, UpstreamPool>();
  for (const [name, spec] of config.upstreams) {
    const prev = old.get(name);
    pools.set(name, prev !== undefined && JSON.stringify(prev.spec) === JSON.stringify(spec) ? prev : new UpstreamPool(spec, clock, events));
  }
  return pools;
}

// Closes the pools of `from` that `kept` does not hold (a reload's replaced or failed pools).
export function closePoolsNotIn(from: ReadonlyMap<string, UpstreamPool>, kept: ReadonlyMap<string, UpstreamPool>): void {
  for (const [name, p] of from) if (kept.get(name) !== p) void p.close().catch(() => undefined);
}

// The clock ticks at a quarter of the smallest WebSocket timer in use (clamped by Clock.setTick).
export function clockTickFor(config: CompiledConfig): number {
  let min = 4000;
  for (const r of config.routes) {
    const w = r.websocket;
    for (const ms of [w.pingIntervalMs, w.pongTimeoutMs, w.idleTimeoutMs, w.maxLifetimeMs, w.sendTimeoutMs]) if (ms > 0 && ms < min) min = ms;
  }
  return min / 4;
}
