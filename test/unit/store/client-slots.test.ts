// maxPerClient across instances on a real redis-server: one count for every instance, slots given
// back on release, and a dead instance's slots expiring with its lease (issue 11).
import { expect, test } from 'vitest';
import { ClientSlots, LEASE_MS, RENEW_MS } from '../../../src/store/client-slots.js';
import { openStoreConnection, startRedis } from '../../helpers/redis.js';

const KEY = 'chat\0ip:10.0.0.7';

async function twoInstances(url: string, clock: { now: number }): Promise<[ClientSlots, ClientSlots]> {
  const a = new ClientSlots((await openStoreConnection(url)).conn, 'wsgate:', 'a', () => clock.now);
  const b = new ClientSlots((await openStoreConnection(url)).conn, 'wsgate:', 'b', () => clock.now);
  return [a, b];
}

test('one count across instances: a slot released on one is free for the other', async () => {
  const redis = await startRedis();
  const clock = { now: 1_000_000 };
  const [a, b] = await twoInstances(redis.url, clock);
  expect(await a.reserve(KEY, 2)).toBe(true);
  expect(await b.reserve(KEY, 2)).toBe(true);
  expect(await b.reserve(KEY, 2)).toBe(false);
  await b.release(KEY); // the refused one
  expect(await a.reserve('chat\0ip:10.0.0.8', 2)).toBe(true); // another client, another count
  await a.release(KEY);
  expect(await b.reserve(KEY, 2)).toBe(true);
});

test('a dead instance stops renewing and its slots come back when its lease ends', async () => {
  const redis = await startRedis();
  const clock = { now: 1_000_000 };
  const [a, b] = await twoInstances(redis.url, clock);
  expect(await a.reserve(KEY, 2)).toBe(true);
  expect(await a.reserve(KEY, 2)).toBe(true);
  // a dies here: it never releases nor renews.
  clock.now += LEASE_MS - 1;
  expect(await b.reserve(KEY, 2)).toBe(false);
  await b.release(KEY);
  clock.now += 2;
  expect(await b.reserve(KEY, 2)).toBe(true);
  expect(await b.reserve(KEY, 2)).toBe(true);
  expect(await b.reserve(KEY, 2)).toBe(false);
});

test('a live instance renews its leases, so its slots outlast LEASE_MS', async () => {
  const redis = await startRedis();
  const clock = { now: 1_000_000 };
  const [a, b] = await twoInstances(redis.url, clock);
  expect(await a.reserve(KEY, 1)).toBe(true);
  for (let t = 0; t < 2 * LEASE_MS; t += RENEW_MS) {
    clock.now += RENEW_MS;
    await a.renew(clock.now);
  }
  expect(await b.reserve(KEY, 1)).toBe(false);
});
