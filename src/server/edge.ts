// server/edge: the built-in middleware a route's config asks for (CORS, auth, rate limits) and the
// services behind them that live as long as a config (auth providers with their key caches, rate
// limit stores). They run before Gateway.use() middleware, so ctx.identity is set when it runs.
import { AuthProviders } from '../auth/providers.js';
import type { CompiledConfig, RouteSpec } from '../config/compile.js';
import type { Clock } from '../core/clock.js';
import { createCors } from '../cors/cors.js';
import type { Middleware } from '../middleware/chain.js';
import type { Logger } from '../observability/log.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import { MemoryRateStore } from '../ratelimit/memory-store.js';
import { RateLimiter } from '../ratelimit/rate-limit.js';
import type { RateStore } from '../ratelimit/store.js';

// What the edge services may use of the gateway.
export interface EdgeDeps {
  readonly log: Logger;
  readonly prom: GatewayMetrics;
  readonly clock: Clock;
  // Buckets every instance shares (`store: { redis }`), owned by the gateway for its lifetime and
  // kept across reloads; null with `store: memory`, where each rate limit keeps its own buckets.
  readonly rateStore: RateStore | null;
}

// One config's services. A reload builds the next from the previous one, so what did not change
// (a JWKS cache, a rate limit's buckets) carries over.
export class Edge {
  constructor(
    readonly config: CompiledConfig,
    readonly deps: EdgeDeps,
    // The buckets of every route's rateLimit; null when no route has one.
    readonly rateStore: RateStore | null,
    readonly auth: AuthProviders,
  ) {}

  // The route's built-in middleware in the order it runs: CORS (a preflight is answered before
  // anything else, and refusals carry the CORS headers a browser needs to read them), then
  // authentication, then rate limits (which may key on the identity).
  middlewareFor(spec: RouteSpec): Middleware[] {
    const out: Middleware[] = [];
    const cors = this.corsFor(spec);
    if (cors !== null) out.push(cors);
    const auth = this.authFor(spec);
    if (auth !== null) out.push(auth);
    const limit = this.rateLimitFor(spec);
    if (limit !== null) out.push(limit);
    return out;
  }

  private corsFor(spec: RouteSpec): Middleware | null {
    return spec.cors === null ? null : createCors(spec.cors);
  }

  private authFor(spec: RouteSpec): Middleware | null {
    return this.auth.middlewareFor(spec.auth);
  }

  private rateLimitFor(spec: RouteSpec): Middleware | null {
    if (spec.rateLimit === null || this.rateStore === null) return null;
    return new RateLimiter(spec.name, spec.rateLimit, this.rateStore, this.deps.clock, this.deps.prom).middleware;
  }

  /** Releases what this config's services hold that the next one did not take over. */
  close(next: Edge | null): void {
    this.auth.close(next === null ? null : next.auth);
    // A shared store belongs to the gateway, which closes it after the drain.
    if (this.rateStore !== null && this.rateStore !== this.deps.rateStore && next?.rateStore !== this.rateStore) this.rateStore.close();
  }
}

export function createEdge(config: CompiledConfig, deps: EdgeDeps, previous: Edge | null): Edge {
  const auth = AuthProviders.create(config.auth, deps, previous === null ? null : previous.auth);
  return new Edge(config, deps, rateStoreFor(config, deps, previous), auth);
}

// One store for every route's buckets, carried from config to config: a route whose limit is unchanged
// keeps its buckets (their names hold the limit: ratelimit/rate-limit.ts). With `store: { redis }`
// every instance's routes take from the shared store instead.
function rateStoreFor(config: CompiledConfig, deps: EdgeDeps, previous: Edge | null): RateStore | null {
  if (!config.routes.some((r) => r.rateLimit !== null)) return null;
  if (deps.rateStore !== null) return deps.rateStore;
  return previous?.rateStore ?? new MemoryRateStore(deps.clock);
}
