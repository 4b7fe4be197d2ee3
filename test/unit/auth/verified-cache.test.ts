import { test, expect } from 'vitest';
import { VerifiedCache, type Verified } from '../../../src/auth/verified-cache.js';

const v = (id: string): Verified => ({ id, claims: { sub: id }, scopes: [], expMs: 0 });

test('an entry is returned until its untilMs and gone from then on', () => {
  const cache = new VerifiedCache();
  const key = VerifiedCache.keyOf('token-a');
  cache.set(key, v('a'), 2_000, 1_000);
  expect(cache.get(key, 1_999)?.id).toBe('a');
  expect(cache.get(key, 2_000)).toBeNull();
  expect(cache.size).toBe(0);
});

test('an entry already past is not stored', () => {
  const cache = new VerifiedCache();
  cache.set(VerifiedCache.keyOf('t'), v('t'), 1_000, 1_000);
  expect(cache.size).toBe(0);
});

test('a full cache drops its oldest entry, never growing past maxEntries', () => {
  const cache = new VerifiedCache(3);
  for (const id of ['a', 'b', 'c', 'd']) cache.set(VerifiedCache.keyOf(id), v(id), 10_000, 0);
  expect(cache.size).toBe(3);
  expect(cache.get(VerifiedCache.keyOf('a'), 1)).toBeNull();
  expect(cache.get(VerifiedCache.keyOf('d'), 1)?.id).toBe('d');
});

test('keys are hashes: the token itself is not a key, and different tokens differ', () => {
  const key = VerifiedCache.keyOf('eyJhbGciOi.secret.sig');
  expect(key).not.toContain('secret');
  expect(key).toHaveLength(44);
  expect(VerifiedCache.keyOf('a')).not.toBe(VerifiedCache.keyOf('b'));
});
