// server/edge: the built-in middleware a route's config asks for (CORS, auth, rate limits) and the
// services behind them that live as long as a config (auth providers with their key caches, rate
// limit stores). They run before Gateway.use() middleware, so ctx.identity is set when it runs.
import { AuthProviders } from '../auth/providers.js';
import type { CompiledConfig, RouteSpec } from '../config/compile.js';
import type { Clock } from '../core/clock.js';
import type { Middleware } from '../middleware/chain.js';
import type { Logger } from '../observability/log.js';
import type { GatewayMetrics } from '../observability/metrics.js';

// What the edge services may use of the gateway.
export interface EdgeDeps {
  readonly log: Logger;
  readonly prom: GatewayMetrics;
  readonly clock: Clock;
}

// One config's services. A reload builds the next from the previous one, so what did not change
// (a JWKS cache, a rate limit's buckets) carries over.
export class Edge {
  constructor(
    readonly config: CompiledConfig,
    readonly deps: EdgeDeps,
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

  private corsFor(_spec: RouteSpec): Middleware | null {
    return null;
  }

  private authFor(spec: RouteSpec): Middleware | null {
    return this.auth.middlewareFor(spec.auth);
  }

  private rateLimitFor(_spec: RouteSpec): Middleware | null {
    return null;
  }

  /** Releases what this config's services hold that the next one did not take over. */
  close(next: Edge | null): void {
    this.auth.close(next === null ? null : next.auth);
  }
}

export function createEdge(config: CompiledConfig, deps: EdgeDeps, previous: Edge | null): Edge {
  return new Edge(config, deps, AuthProviders.create(config.auth, deps, previous === null ? null : previous.auth));
}
