// ratelimit/rate-limit: a route's `rateLimit` as middleware: whose bucket a request or handshake takes
// from (ip, user, apiKey, header:NAME), the RateLimit-* headers, and the 429 RATE_LIMITED refusal
// before anything reaches the upstream. The buckets themselves live in a RateStore (store.ts).
import type { RateKey, RateLimitSpec } from '../config/compile.js';
import type { Clock } from '../core/clock.js';
import { GatewayError } from '../core/errors.js';
import type { Context, GatewayContext, Middleware, Next } from '../middleware/chain.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import type { BucketSpec, RateStore, Take } from './store.js';

export class RateLimiter {
  // Bucket names start with the route and its limit as written: a reload that keeps both keeps the
  // buckets (the store carries over); a changed limit starts from full buckets.
  private readonly prefix: string;
  private readonly bucket: BucketSpec;
  private readonly limit: string;
  private readonly message: string;
  readonly middleware: Middleware;

  constructor(
    private readonly route: string,
    private readonly spec: RateLimitSpec,
    private readonly store: RateStore,
    private readonly clock: Clock,
    private readonly prom: GatewayMetrics,
  ) {
    this.prefix = `${route}\0${spec.requests}/${spec.perMs}/${spec.burst}/${spec.keyText}\0`;
    this.bucket = { capacity: spec.burst, refillPerMs: spec.requests / spec.perMs };
    this.limit = String(spec.burst);
    this.message = `over the rate limit of route ${route} (${spec.requests} requests per ${spec.perMs} ms, burst ${spec.burst}, by ${spec.keyText})`;
    this.middleware = (ctx, next) => this.handle(ctx as GatewayContext, next);
  }

  // HOT: per request on a rate-limited route. A memory store answers in place: no promise, no closure.
  handle(ctx: GatewayContext, next: Next): unknown {
    // refresh(): the clock's coarse tick would refill in steps of a tick, too strict for a window
    // shorter than it (5 per 100ms would allow 5 a second); one Date.now() a request keeps it exact,
    // and a ManualClock still decides the time in tests.
    const answer = this.store.take(this.prefix + clientKey(this.spec.key, ctx), this.bucket, this.clock.refresh());
    if (isPromise(answer)) return answer.then((t) => this.apply(ctx, next, t));
    return this.apply(ctx, next, answer);
  }

  private apply(ctx: GatewayContext, next: Next, t: Take): unknown {
    // draft-ietf-httpapi-ratelimit-headers: the bucket's size, whole tokens left, seconds until full.
    const remaining = String(t.remaining);
    const reset = String(Math.ceil(t.resetMs / 1000));
    const res = ctx.res;
    if (res !== null) {
      // Digits need none of setResponseHeader's checks: straight onto the response, where Node
      // merges them into the relayed answer or a refusal (half the limit's cost, bench/ratelimit.ts).
      res.setHeader('ratelimit-limit', this.limit);
      res.setHeader('ratelimit-remaining', remaining);
      res.setHeader('ratelimit-reset', reset);
    } else {
      ctx.setResponseHeader('ratelimit-limit', this.limit);
      ctx.setResponseHeader('ratelimit-remaining', remaining);
      ctx.setResponseHeader('ratelimit-reset', reset);
    }
    if (t.allowed) return next();
    this.prom.httpRateLimited(this.prom.route(this.route));
    // RFC 9110 §10.2.3: delay-seconds, a whole number; rounded up so a retry at once is never early.
    ctx.refuse(new GatewayError('RATE_LIMITED', this.message), [['retry-after', String(Math.max(1, Math.ceil(t.retryAfterMs / 1000)))]]);
    return undefined;
  }
}

// The client part of a bucket's name. Each kind has its own prefix letter, so a user named like an
// address never shares that address's bucket. Without what the key asks for (no identity, not an API
// key, no such header), the request is keyed by its address: leaving out a header or a credential
// must not be a way around the limit.
export function clientKey(key: RateKey, ctx: Context): string {
  switch (key.from) {
    case 'ip':
      return ctx.clientAddress;
    case 'user': {
      const id = ctx.identity;
      return id === null ? `i:${ctx.clientAddress}` : `u:${id.id}`;
    }
    case 'apiKey': {
      const id = ctx.identity;
      return id !== null && id.type === 'apiKey' ? `k:${id.id}` : `i:${ctx.clientAddress}`;
    }
    case 'header': {
      const v = ctx.req.headers[key.name];
      if (v === undefined) return `i:${ctx.clientAddress}`;
      return `h:${typeof v === 'string' ? v : v.join(', ')}`;
    }
  }
}

function isPromise(t: Take | Promise<Take>): t is Promise<Take> {
  return typeof (t as { then?: unknown }).then === 'function';
}
