// Asks between instances over a real redis-server's pub/sub: a kick is true when any other
// instance held the connection, false when none did; an instance never answers its own ask.
import { expect, test } from 'vitest';
import { ClusterRequests, type Ask } from '../../../src/store/cluster-requests.js';
import { openStoreConnection, startRedis } from '../../helpers/redis.js';

// One instance: its connection, subscribed to its channels, and the asks it was asked.
async function instance(url: string, id: string, holds: readonly string[]): Promise<{ requests: ClusterRequests; asked: Ask[] }> {
  const asked: Ask[] = [];
  let requests: ClusterRequests | null = null;
  const channels = [`wsgate:ask`, `wsgate:answer:${id}`];
  const { conn } = await openStoreConnection(url, { channels, onMessage: (channel, message) => requests?.onMessage(channel, message) });
  requests = new ClusterRequests(conn, 'wsgate:', id, {
    answer: (ask) => {
      asked.push(ask);
      return ask.op === 'kick' && holds.includes(ask.id);
    },
  });
  expect(requests.channels).toEqual(channels);
  return { requests, asked };
}

test('a kick is true when another instance held the connection, false when none did', async () => {
  const redis = await startRedis();
  const a = await instance(redis.url, 'a', ['on-a']);
  const b = await instance(redis.url, 'b', ['on-b']);
  const c = await instance(redis.url, 'c', []);
  expect(await a.requests.ask({ op: 'kick', id: 'on-b', code: 1008, reason: 'bye' }, 3, true)).toBe(true);
  expect(b.asked).toContainEqual({ op: 'kick', id: 'on-b', code: 1008, reason: 'bye' });
  expect(await c.requests.ask({ op: 'kick', id: 'nowhere', code: 1008, reason: 'bye' }, 3, true)).toBe(false);
  // Nobody answers its own ask: a holds on-a, yet asking from a finds no other holder.
  expect(await a.requests.ask({ op: 'kick', id: 'on-a', code: 1008, reason: 'bye' }, 3, true)).toBe(false);
  expect(a.asked.filter((k) => k.op === 'kick' && k.id === 'on-a')).toEqual([]);
});

test('"publish now" is true once every other instance answered', async () => {
  const redis = await startRedis();
  const a = await instance(redis.url, 'a', []);
  const b = await instance(redis.url, 'b', []);
  expect(await a.requests.ask({ op: 'publish' }, 2, false)).toBe(true);
  expect(b.asked).toEqual([{ op: 'publish' }]);
  expect(a.asked).toEqual([]);
});
