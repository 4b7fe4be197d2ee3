import { expect, test } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import { MemoryRateStore } from '../../../src/ratelimit/memory-store.js';

const TEN_PER_SECOND = { capacity: 10, refillPerMs: 10 / 1000 };

function storeOf(maxBuckets?: number): { clock: ManualClock; store: MemoryRateStore } {
  const clock = new ManualClock(1000);
  return { clock, store: new MemoryRateStore(clock, maxBuckets) };
}

test('a full bucket gives capacity tokens, then refuses with the wait for one token and for a full bucket', () => {
  const { store } = storeOf();
  for (let i = 0; i < 10; i++) expect(store.take('k', TEN_PER_SECOND, 0)).toMatchObject({ allowed: true, remaining: 9 - i, retryAfterMs: 0 });
  expect({ ...store.take('k', TEN_PER_SECOND, 0) }).toEqual({ allowed: false, remaining: 0, resetMs: 1000, retryAfterMs: 100 });
  // Half a token back after 50 ms: still refused, the wait shrinks.
  expect(store.take('k', TEN_PER_SECOND, 50)).toMatchObject({ allowed: false, retryAfterMs: 50 });
  expect(store.take('k', TEN_PER_SECOND, 100)).toMatchObject({ allowed: true, remaining: 0 });
  // Refill never goes over capacity.
  expect(store.take('k', TEN_PER_SECOND, 60_000)).toMatchObject({ allowed: true, remaining: 9, resetMs: 100 });
});

test('keys have separate buckets, and a clock going backwards takes no tokens away', () => {
  const { store } = storeOf();
  const one = { capacity: 1, refillPerMs: 1 / 1000 };
  expect(store.take('a', one, 1000).allowed).toBe(true);
  expect(store.take('b', one, 1000).allowed).toBe(true);
  expect(store.take('a', one, 500).allowed).toBe(false);
  expect(store.take('a', one, 2000).allowed).toBe(true);
});

test('the sweep drops buckets that refilled completely and keeps those still owed tokens', () => {
  const { clock, store } = storeOf();
  const slow = { capacity: 2, refillPerMs: 1 / 60_000 };
  store.take('quick', TEN_PER_SECOND, 0);
  store.take('slow', slow, 0);
  store.take('slow', slow, 0);
  expect(store.size).toBe(2);
  clock.advance(20_000);
  expect(store.size).toBe(1);
  clock.advance(120_000);
  expect(store.size).toBe(0);
  store.close();
});

test('past maxBuckets the oldest bucket is dropped first', () => {
  const { store } = storeOf(2);
  const one = { capacity: 1, refillPerMs: 1 / 60_000 };
  store.take('first', one, 0);
  store.take('second', one, 0);
  store.take('third', one, 0);
  expect(store.size).toBe(2);
  expect(store.take('second', one, 0).allowed).toBe(false);
  expect(store.take('first', one, 0).allowed).toBe(true); // forgotten: starts full again
});
