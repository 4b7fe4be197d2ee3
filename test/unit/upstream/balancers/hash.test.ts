import { IncomingMessage, type IncomingHttpHeaders } from 'node:http';
import { Socket } from 'node:net';
import { describe, expect, test } from 'vitest';
import type { HashOn } from '../../../../src/config/compile.js';
import { hashKeyOf } from '../../../../src/upstream/balancers/hash.js';
import type { Balancer, Target } from '../../../../src/upstream/pool.js';
import { balancerOf, originOf } from './targets.js';

const KEYS = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);
const ten = Array.from({ length: 10 }, (_, i) => originOf(i));

// The origin each key goes to.
function placement(balancer: Balancer, targets: readonly Target[], exclude: Target | null = null): (string | null)[] {
  return KEYS.map((k) => balancer.pick(targets, exclude, k)?.origin ?? null);
}

function ring(origins: readonly string[], weights = origins.map(() => 1)): { targets: readonly Target[]; balancer: Balancer } {
  return balancerOf('hash', weights, origins);
}

function countsOf(placed: readonly (string | null)[]): Map<string | null, number> {
  const counts = new Map<string | null, number>();
  for (const o of placed) counts.set(o, (counts.get(o) ?? 0) + 1);
  return counts;
}

describe('the ring', () => {
  test('sends a key to the same target every time, and every gateway instance agrees', () => {
    const first = ring(ten);
    const again = Array.from({ length: 5 }, () => first.balancer.pick(first.targets, null, 'alice')?.origin);
    expect(new Set(again).size).toBe(1);
    const other = ring(ten);
    expect(placement(other.balancer, other.targets)).toEqual(placement(first.balancer, first.targets));
  });

  test('places keys by target address, whatever order the targets are listed in', () => {
    const listed = ring(ten);
    const reversed = ring([...ten].reverse());
    expect(placement(reversed.balancer, reversed.targets)).toEqual(placement(listed.balancer, listed.targets));
  });

  test('spreads 10,000 keys over 10 equal targets, each within 30% of a tenth', () => {
    const { targets, balancer } = ring(ten);
    const counts = countsOf(placement(balancer, targets));
    expect(counts.size).toBe(10);
    for (const n of counts.values()) {
      expect(n).toBeGreaterThan(700);
      expect(n).toBeLessThan(1300);
    }
  });

  test('gives a target keys in proportion to its weight', () => {
    const origins = ten.slice(0, 3);
    const { targets, balancer } = ring(origins, [1, 1, 2]);
    const counts = countsOf(placement(balancer, targets));
    [2500, 2500, 5000].forEach((due, i) => {
      expect(counts.get(origins[i]!)).toBeGreaterThan(due * 0.8);
      expect(counts.get(origins[i]!)).toBeLessThan(due * 1.2);
    });
  });

  test('adding an 11th target moves about 1/11 of the keys, all of them to the new target', () => {
    const full = ring(ten);
    const before = placement(full.balancer, full.targets);
    const added = 'http://127.0.0.1:7100';
    // Listed first: every other target's place in the list (and its id) changes.
    const grown = ring([added, ...ten]);
    const after = placement(grown.balancer, grown.targets);
    const moved = KEYS.map((_, i) => i).filter((i) => after[i] !== before[i]);
    expect(moved.every((i) => after[i] === added)).toBe(true);
    expect(moved.length / KEYS.length).toBeGreaterThan(0.5 / 11);
    expect(moved.length / KEYS.length).toBeLessThan(1.6 / 11);
  });

  test('removing one of 10 targets moves only its keys, about 1/10 of them', () => {
    const full = ring(ten);
    const before = placement(full.balancer, full.targets);
    const removed = ten[3]!;
    const shrunk = ring(ten.filter((o) => o !== removed));
    const after = placement(shrunk.balancer, shrunk.targets);
    const moved = KEYS.map((_, i) => i).filter((i) => after[i] !== before[i]);
    expect(moved.every((i) => before[i] === removed)).toBe(true);
    expect(moved.length / KEYS.length).toBeGreaterThan(0.5 / 10);
    expect(moved.length / KEYS.length).toBeLessThan(1.6 / 10);
  });

  test('a down target\'s keys move to several of the others, and no other key moves', () => {
    const { targets, balancer } = ring(ten);
    const before = placement(balancer, targets);
    const down = targets[3]!;
    down.healthy = false;
    const after = placement(balancer, targets);
    const moved = KEYS.map((_, i) => i).filter((i) => after[i] !== before[i]);
    expect(moved.filter((i) => before[i] !== down.origin)).toEqual([]);
    expect(moved).toHaveLength(before.filter((o) => o === down.origin).length);
    const heirs = new Set(moved.map((i) => after[i]));
    expect(heirs.has(down.origin)).toBe(false);
    expect(heirs.has(null)).toBe(false);
    expect(heirs.size).toBeGreaterThanOrEqual(5);
    down.healthy = true;
    expect(placement(balancer, targets)).toEqual(before);
  });

  test('a retry that excludes the target it failed on goes where the key would go with that target down', () => {
    const { targets, balancer } = ring(ten);
    const failed = targets[6]!;
    const retried = placement(balancer, targets, failed);
    failed.healthy = false;
    expect(retried).toEqual(placement(balancer, targets));
  });

  test('without a key, takes targets in smooth weighted round robin', () => {
    const { targets, balancer } = ring(ten.slice(0, 3), [5, 1, 1]);
    const [A, B, C] = ten;
    const seen = Array.from({ length: 14 }, () => balancer.pick(targets, null, null)?.origin);
    expect(seen).toEqual([A, A, B, A, C, A, A, A, A, B, A, C, A, A]);
  });
});

describe('hashKeyOf', () => {
  function request(url: string, headers: IncomingHttpHeaders = {}): IncomingMessage {
    const req = new IncomingMessage(new Socket());
    req.url = url;
    req.headers = headers;
    return req;
  }
  const header: HashOn = { from: 'header', name: 'x-user' };
  const cookie: HashOn = { from: 'cookie', name: 'session' };
  const query: HashOn = { from: 'query', name: 'user' };

  test('hashOn ip: the client address it is given (the server works it out from trusted proxies)', () => {
    expect(hashKeyOf({ from: 'ip' }, request('/'), '203.0.113.7')).toBe('203.0.113.7');
    expect(hashKeyOf({ from: 'ip' }, request('/'), '')).toBeNull();
  });

  test('hashOn header: the header\'s value, repeated values joined; null when absent or empty', () => {
    expect(hashKeyOf(header, request('/', { 'x-user': 'alice' }), '10.0.0.1')).toBe('alice');
    expect(hashKeyOf(header, request('/', { 'x-user': ['alice', 'bob'] }), '10.0.0.1')).toBe('alice, bob');
    expect(hashKeyOf(header, request('/', { 'x-other': 'alice' }), '10.0.0.1')).toBeNull();
    expect(hashKeyOf(header, request('/', { 'x-user': '' }), '10.0.0.1')).toBeNull();
  });

  test.each<[string, string | null]>([
    ['theme=dark; session=abc123; lang=en', 'abc123'],
    ['session=abc123', 'abc123'],
    ['xsession=1; session=2', '2'],
    ['session_id=1; lang=en', null],
    ['session=1; session=2', '1'],
    ['session="quoted"', 'quoted'],
    ['a=1;session=tight', 'tight'],
    ['session=', null],
    ['', null],
  ])('hashOn cookie: the named cookie of %j is %j', (cookieHeader, key) => {
    expect(hashKeyOf(cookie, request('/', { cookie: cookieHeader }), '10.0.0.1')).toBe(key);
  });

  test('hashOn cookie: null without a Cookie header', () => {
    expect(hashKeyOf(cookie, request('/'), '10.0.0.1')).toBeNull();
  });

  test.each<[string, string | null]>([
    ['/p?room=7&user=42', '42'],
    ['/p?user=42', '42'],
    ['/p?username=1&user=2', '2'],
    ['/p?user=1&user=2', '1'],
    ['/p?user=a%20b&x=1', 'a b'],
    ['/p?user=a+b', 'a b'],
    ['/p?us%65r=encoded-name', 'encoded-name'],
    ['/p?x=1&&user=3', '3'],
    ['/p?user', null],
    ['/p?user=', null],
    ['/p?x=1', null],
    ['/p?', null],
    ['/p', null],
  ])('hashOn query: the user parameter of %j is %j, as URLSearchParams reads it', (url, key) => {
    expect(hashKeyOf(query, request(url), '10.0.0.1')).toBe(key);
    const q = url.indexOf('?');
    const reference = q === -1 ? null : new URLSearchParams(url.slice(q + 1)).get('user');
    expect(reference === '' ? null : reference).toBe(key);
  });
});
