// ratelimit/store: the interface every token-bucket store implements: in memory for one process,
// or shared by every instance (a Redis store, `store: { redis }`). A bucket is named by its key
// (route, then the client key: ip, user, api key or a header's value) and described by its spec.

export interface BucketSpec {
  readonly capacity: number;     // tokens when full (burst)
  readonly refillPerMs: number;  // tokens added per millisecond
}

// The answer to one take(): the figures a 429 and the RateLimit-* headers need.
export interface Take {
  readonly allowed: boolean;
  readonly remaining: number;    // whole tokens left after this take
  readonly resetMs: number;      // ms until the bucket is full again
  readonly retryAfterMs: number; // when refused: ms until one token is back; 0 when allowed
}

export interface RateStore {
  /**
   * Takes one token from bucket `key` at `nowMs` (the gateway clock). A store in memory answers
   * synchronously; a shared one with a promise, which never rejects: a store that cannot reach its
   * backend answers from a per-instance fallback instead (and reports itself degraded).
   * A synchronous answer may be one object the store reuses: read it before the next take().
   * `key` names the route's limit as well as the client (ratelimit/rate-limit.ts), so a bucket
   * is only ever taken with one spec; a changed limit starts from fresh buckets.
   */
  take(key: string, spec: BucketSpec, nowMs: number): Take | Promise<Take>;
  /** Releases timers and connections. */
  close(): void;
}
