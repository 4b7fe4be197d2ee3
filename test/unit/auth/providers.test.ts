import { test, expect } from 'vitest';
import { pino } from 'pino';
import { AuthProviders } from '../../../src/auth/providers.js';
import { compileAuth } from '../../../src/auth/spec.js';
import { ManualClock } from '../../../src/core/clock.js';
import { parseConfig } from '../../../src/config/check.js';
import { SECRET, hsToken } from '../../helpers/auth.js';

const deps = { log: pino({ level: 'silent' }), clock: new ManualClock(1000, Date.UTC(2030, 0, 1)) };

function specs(audience: string) {
  return compileAuth(
    parseConfig({
      auth: {
        a: { type: 'jwt', secret: SECRET, audience },
        b: { type: 'jwt', secret: SECRET },
      },
    }),
  );
}

test('a reload keeps the providers whose config did not change, with their caches, and replaces the others', async () => {
  const first = AuthProviders.create(specs('one'), deps, null);
  const token = await hsToken({ sub: 'x' });
  await first.providers.get('b')!.verify(token, deps.clock.nowMs);
  const second = AuthProviders.create(specs('two'), deps, first);
  expect(second.providers.get('b')).toBe(first.providers.get('b'));
  expect(second.providers.get('a')).not.toBe(first.providers.get('a'));
  // The carried-over provider answers from its cache at once.
  expect(second.providers.get('b')!.verify(token, deps.clock.nowMs)).not.toBeInstanceOf(Promise);
});

test('closing the old set closes only what the next set did not take over', async () => {
  const first = AuthProviders.create(specs('one'), deps, null);
  const token = await hsToken({ sub: 'x', aud: 'one' });
  await first.providers.get('a')!.verify(token, deps.clock.nowMs);
  await first.providers.get('b')!.verify(token, deps.clock.nowMs);
  const second = AuthProviders.create(specs('two'), deps, first);
  first.close(second);
  // b lives on in the new set with its cache; a was closed, its cache dropped.
  expect(second.providers.get('b')!.verify(token, deps.clock.nowMs)).not.toBeInstanceOf(Promise);
  expect(first.providers.get('a')!.verify(token, deps.clock.nowMs)).toBeInstanceOf(Promise);
});

test('a route without auth gets no middleware; one naming an unknown provider is an error', () => {
  const set = AuthProviders.create(specs('one'), deps, null);
  expect(set.middlewareFor(null)).toBeNull();
  expect(typeof set.middlewareFor({ use: 'a', scopes: [] })).toBe('function');
  expect(() => set.middlewareFor({ use: 'zz', scopes: [] })).toThrow('unknown auth provider "zz"');
});
