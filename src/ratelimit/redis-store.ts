// ratelimit/redis-store: token buckets every instance shares, one Redis hash per bucket updated by
// one Lua script (read, refill, take, write and expire in one atomic step, so two instances never
// both take the last token); while the store is down, each instance counts in its own memory
// buckets (a MemoryRateStore) and answers at once. Not the connection or its up/down state (store/).
import { createHash } from 'node:crypto';
import { script, type StoreConnection } from '../store/redis-connection.js';
import { MemoryRateStore } from './memory-store.js';
import type { BucketSpec, RateStore, Take } from './store.js';

// The fallback's buckets while the store is down: no sweep runs, so this many at most (oldest dropped).
const FALLBACK_MAX_BUCKETS = 10_000;

// KEYS[1] the bucket; ARGV capacity, refill per ms, now (ms, the gateway clock).
// The bucket is {t = tokens, ts = last refill}. A key of another type or with unreadable fields
// (something else wrote it) is replaced by a full bucket. An instance whose clock lags the one that
// wrote ts gets no refill until it catches up: skew delays tokens, it never adds any. The key
// expires once the bucket would be full again, when it equals no key at all.
const TOKEN_BUCKET = script(
  `local key = KEYS[1]
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local tokens, ts = capacity, now
local kind = redis.call('TYPE', key)['ok']
if kind == 'hash' then
  local v = redis.call('HMGET', key, 't', 'ts')
  local vt, vts = tonumber(v[1]), tonumber(v[2])
  if vt ~= nil and vts ~= nil and vt >= 0 and vt <= capacity then tokens, ts = vt, vts end
elseif kind ~= 'none' then
  redis.call('DEL', key)
end
if now > ts then
  tokens = math.min(capacity, tokens + (now - ts) * rate)
  ts = now
end
local allowed = 0
local retry = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  retry = math.ceil((1 - tokens) / rate)
end
local toFull = math.ceil((capacity - tokens) / rate)
redis.call('HSET', key, 't', tostring(tokens), 'ts', tostring(ts))
redis.call('PEXPIRE', key, math.max(toFull, 1) + 1000)
return {allowed, math.floor(tokens), toFull, retry}`,
  1,
);

// Keys longer than this (a long header value) are named by their hash: Redis keys stay short.
const MAX_RAW_KEY = 128;

export class RedisRateStore implements RateStore {
  private readonly local = new MemoryRateStore(null, FALLBACK_MAX_BUCKETS);

  constructor(
    private readonly conn: StoreConnection,
    private readonly keyPrefix: string,
  ) {}

  take(key: string, spec: BucketSpec, nowMs: number): Take | Promise<Take> {
    if (!this.conn.up) return this.local.take(key, spec, nowMs);
    // The memory store reuses its answer object: one that crosses a promise is copied first.
    return this.conn.run(TOKEN_BUCKET, [this.redisKey(key)], [spec.capacity, spec.refillPerMs, nowMs]).then(
      (reply) => takeOf(reply) ?? { ...this.local.take(key, spec, nowMs) },
      () => ({ ...this.local.take(key, spec, nowMs) }),
    );
  }

  /** The connection belongs to the store (store/shared-store.ts), which closes it. */
  close(): void {
    this.local.close();
  }

  private redisKey(key: string): string {
    const name = key.length <= MAX_RAW_KEY ? key : createHash('sha256').update(key).digest('base64url');
    return `${this.keyPrefix}rl:${name}`;
  }
}

// The script's answer, or null for anything else (then the local bucket answers).
function takeOf(reply: unknown): Take | null {
  if (!Array.isArray(reply) || reply.length !== 4 || !reply.every((n) => typeof n === 'number')) return null;
  const [allowed, remaining, resetMs, retryAfterMs] = reply as [number, number, number, number];
  return { allowed: allowed === 1, remaining, resetMs, retryAfterMs };
}
