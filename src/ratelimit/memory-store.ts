// ratelimit/memory-store: the token buckets of one process (`store: memory`), answered synchronously,
// and their eviction; not whose bucket a request takes from (ratelimit/rate-limit.ts).
//
// Why our own bucket and not rate-limiter-flexible: its memory limiter answers with a promise, so
// every request on a limited route would pay a microtask and a closure for an answer that is a few
// additions; a Map of buckets answers in place (bench/ratelimit.ts measures the route's cost). The
// Redis store implements the same RateStore and pays for its round trip only there.
//
// Memory stays bounded two ways: a bucket that has refilled completely is the same as no bucket, so a
// sweep (on the gateway clock, every SWEEP_EVERY_MS) drops those; and past `maxBuckets` (a flood of
// distinct keys between sweeps) the oldest bucket made is dropped first. Dropping a bucket that was
// not full forgives its client the tokens it owed: the cap trades exactness for a memory ceiling.
import type { Clock, Sweepable } from '../core/clock.js';
import type { BucketSpec, RateStore, Take } from './store.js';

const SWEEP_EVERY_MS = 10_000;
export const DEFAULT_MAX_BUCKETS = 1_000_000;

class Bucket {
  constructor(
    public tokens: number,
    public lastMs: number,   // when tokens was last brought up to date
    public fullAtMs: number, // from then on the bucket is full again: the sweep may drop it
  ) {}
}

// The one answer of a synchronous take(), reused (RateStore allows it): no allocation per request.
class TakeResult implements Take {
  allowed = false;
  remaining = 0;
  resetMs = 0;
  retryAfterMs = 0;
}

export class MemoryRateStore implements RateStore, Sweepable {
  private readonly buckets = new Map<string, Bucket>();
  private readonly result = new TakeResult();
  private nextSweepMs = 0;

  // Without a clock (the Redis store's fallback) nothing sweeps: `maxBuckets` alone bounds it.
  constructor(
    private readonly clock: Clock | null,
    private readonly maxBuckets = DEFAULT_MAX_BUCKETS,
  ) {
    clock?.add(this);
  }

  get size(): number {
    return this.buckets.size;
  }

  // HOT: per request on a rate-limited route.
  take(key: string, spec: BucketSpec, nowMs: number): Take {
    let b = this.buckets.get(key);
    if (b === undefined) {
      if (this.buckets.size >= this.maxBuckets) this.dropOldest();
      b = new Bucket(spec.capacity, nowMs, nowMs);
      this.buckets.set(key, b);
    } else if (nowMs > b.lastMs) {
      b.tokens = Math.min(spec.capacity, b.tokens + (nowMs - b.lastMs) * spec.refillPerMs);
      b.lastMs = nowMs;
    }
    const r = this.result;
    r.allowed = b.tokens >= 1;
    if (r.allowed) b.tokens -= 1;
    const missing = spec.capacity - b.tokens;
    r.remaining = Math.floor(b.tokens);
    r.resetMs = Math.ceil(missing / spec.refillPerMs);
    r.retryAfterMs = r.allowed ? 0 : Math.ceil((1 - b.tokens) / spec.refillPerMs);
    b.fullAtMs = nowMs + r.resetMs;
    return r;
  }

  sweep(nowMs: number): void {
    if (nowMs < this.nextSweepMs) return;
    this.nextSweepMs = nowMs + SWEEP_EVERY_MS;
    for (const [key, b] of this.buckets) if (b.fullAtMs <= nowMs) this.buckets.delete(key);
  }

  close(): void {
    this.clock?.delete(this);
    this.buckets.clear();
  }

  // Maps iterate in insertion order: the first key is the oldest bucket.
  private dropOldest(): void {
    for (const key of this.buckets.keys()) {
      this.buckets.delete(key);
      return;
    }
  }
}
