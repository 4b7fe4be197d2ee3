// One token bucket shared by two instances through a real redis-server, the per-instance fallback
// while Redis is down, and the way back (issue 11).
import { describe, expect, test } from 'vitest';
import { RedisRateStore } from '../../../src/ratelimit/redis-store.js';
import type { Take } from '../../../src/ratelimit/store.js';
import { openStoreConnection, startRedis } from '../../helpers/redis.js';

const SPEC = { capacity: 3, refillPerMs: 1 / 1000 }; // 3 tokens, one back per second

describe('RedisRateStore', () => {
  test('two instances take from one bucket: the fourth take is refused wherever it lands', async () => {
    const redis = await startRedis();
    const a = new RedisRateStore((await openStoreConnection(redis.url)).conn, 'wsgate:');
    const b = new RedisRateStore((await openStoreConnection(redis.url)).conn, 'wsgate:');
    const now = 1_000_000;
    const takes: Take[] = [];
    for (const store of [a, b, a, b]) takes.push(await store.take('api\0ip:10.0.0.1', SPEC, now));
    expect(takes.map((t) => t.allowed)).toEqual([true, true, true, false]);
    expect(takes.map((t) => t.remaining)).toEqual([2, 1, 0, 0]);
    expect(takes[3]).toMatchObject({ retryAfterMs: 1000, resetMs: 3000 });
    // Another key is another bucket; a second later one token is back, for either instance.
    expect((await b.take('api\0ip:10.0.0.2', SPEC, now)).allowed).toBe(true);
    expect(await a.take('api\0ip:10.0.0.1', SPEC, now + 1000)).toMatchObject({ allowed: true, remaining: 0 });
    expect((await b.take('api\0ip:10.0.0.1', SPEC, now + 1000)).allowed).toBe(false);
  });

  test('concurrent takes from many connections never hand out more tokens than the bucket holds', async () => {
    const redis = await startRedis();
    const stores = await Promise.all([0, 1, 2, 3].map(async () => new RedisRateStore((await openStoreConnection(redis.url)).conn, 'wsgate:')));
    const spec = { capacity: 50, refillPerMs: 1e-9 };
    const takes = await Promise.all(Array.from({ length: 200 }, async (_, i) => stores[i % 4]!.take('ws\0user:alice', spec, 5_000)));
    expect(takes.filter((t) => t.allowed)).toHaveLength(50);
  });

  test('a key that holds something else (another writer) is replaced by a full bucket', async () => {
    const redis = await startRedis();
    const { conn } = await openStoreConnection(redis.url);
    await conn.command((c) => c.set('wsgate:rl:api\0ip:1.2.3.4', 'garbage'));
    const store = new RedisRateStore(conn, 'wsgate:');
    expect(await store.take('api\0ip:1.2.3.4', SPEC, 1000)).toMatchObject({ allowed: true, remaining: 2 });
    expect(conn.up).toBe(true);
  });

  test('while Redis is down each instance counts alone, answers at once, and shares again once it is back', async () => {
    const redis = await startRedis();
    const t = await openStoreConnection(redis.url, { timeoutMs: 100 });
    const store = new RedisRateStore(t.conn, 'wsgate:');
    expect((await store.take('k', SPEC, 0)).remaining).toBe(2);
    await redis.stop();
    // The first take after the outage meets the dead connection and falls back; the later ones skip Redis.
    const first = await store.take('k', SPEC, 0);
    expect(first.allowed).toBe(true);
    expect(t.logs.filter((l) => l.event === 'store_degraded')).toHaveLength(1);
    expect(await t.prom.text()).toMatch(/^wsgate_store_up 0$/m);
    const local = store.take('k', SPEC, 0);
    expect(local).not.toBeInstanceOf(Promise); // answered without waiting on Redis
    expect((local as Take).remaining).toBe(1); // the local bucket started full: the shared one is out of reach
    await redis.start();
    t.conn.probe(); // the gateway clock does this every second
    await t.waitForLog((l) => l.event === 'store_up' && l.recovered === true);
    expect(await t.prom.text()).toMatch(/^wsgate_store_up 1$/m);
    expect(t.logs.filter((l) => l.event === 'store_degraded')).toHaveLength(1);
    // The restarted Redis is empty: a full shared bucket again.
    expect(await store.take('k', SPEC, 0)).toMatchObject({ allowed: true, remaining: 2 });
  });
});
