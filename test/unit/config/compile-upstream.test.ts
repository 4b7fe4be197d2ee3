import { expect, test } from 'vitest';
import { compileUpstream } from '../../../src/config/compile-upstream.js';
import { upstreamSchema } from '../../../src/config/schema.js';

function compiled(input: unknown) {
  return compileUpstream('api', upstreamSchema.parse(input));
}

test('durations become ms, status ranges become inclusive pairs, and hashOn names its source', () => {
  const u = compiled({
    targets: [{ url: 'http://127.0.0.1:3001' }, { url: 'https://api.internal', weight: 3 }],
    balance: 'hash',
    hashOn: 'header:X-User',
    healthCheck: { interval: '2s', expectStatus: ['2xx', '301-302', 418] },
    passive: { ejectFor: '10s' },
    timeouts: { connect: '500ms' },
  });
  expect(u.hashOn).toEqual({ from: 'header', name: 'x-user' });
  expect(u.healthCheck).toMatchObject({ intervalMs: 2000, timeoutMs: 2000, expectStatus: [[200, 299], [301, 302], [418, 418]] });
  expect(u.passive).toMatchObject({ ejectForMs: 10_000, maxEjectForMs: 300_000 });
  expect(u.connectTimeoutMs).toBe(500);
  expect(u.targets.map((t) => [t.origin, t.port, t.secure, t.weight])).toEqual([
    ['http://127.0.0.1:3001', 3001, false, 1],
    ['https://api.internal', 443, true, 3],
  ]);
  // Only secure targets carry TLS options; without `tls` they verify against the system CAs.
  expect(u.targets[0]!.tls).toBeNull();
  expect(u.targets[1]!.tls).toEqual({ rejectUnauthorized: true });
});

test('a target id is stable for the same upstream, origin and place, and differs otherwise', () => {
  const a = compiled({ targets: [{ url: 'http://127.0.0.1:3001' }, { url: 'http://127.0.0.1:3002' }] });
  const b = compiled({ targets: [{ url: 'http://127.0.0.1:3001' }, { url: 'http://127.0.0.1:3002' }] });
  expect(a.targets.map((t) => t.id)).toEqual(b.targets.map((t) => t.id));
  expect(a.targets[0]!.id).not.toBe(a.targets[1]!.id);
});

test('an unreadable CA file throws CONFIG_UNREADABLE naming the key', () => {
  expect(() => compiled({ targets: [{ url: 'https://api.internal' }], tls: { ca: '/nonexistent/ca.pem' } })).toThrow(/upstreams\.api\.tls\.ca: cannot read \/nonexistent\/ca\.pem/);
});
