import { test, expect } from 'vitest';
import { pino } from 'pino';
import { JwtProvider } from '../../../src/auth/jwt-provider.js';
import { compileProvider, type JwtProviderSpec } from '../../../src/auth/spec.js';
import { ManualClock } from '../../../src/core/clock.js';
import { SECRET, hsToken, seconds } from '../../helpers/auth.js';

const NOW = Date.UTC(2030, 0, 1);

function provider(clockSkew = '0s'): JwtProvider {
  const spec = compileProvider('users', {
    type: 'jwt', secret: SECRET, clockSkew, tokenFrom: ['header'], closeOnExpiry: false, forwardToken: false, timeout: '5s',
  }) as JwtProviderSpec;
  return new JwtProvider(spec, { log: pino({ level: 'silent' }), clock: new ManualClock(1000, NOW) });
}

test('a verified token is answered again synchronously from the cache, without a signature check', async () => {
  const p = provider();
  const token = await hsToken({ sub: 'alice', exp: seconds(NOW) + 60 });
  const first = p.verify(token, NOW);
  expect(first).toBeInstanceOf(Promise);
  expect((await first).id).toBe('alice');
  const second = p.verify(token, NOW + 1_000);
  expect(second).not.toBeInstanceOf(Promise);
  expect((second as { id: string }).id).toBe('alice');
  expect(p.cache.size).toBe(1);
});

test('the cached answer ends at exp: the same token is then checked again and refused as expired', async () => {
  const p = provider();
  const token = await hsToken({ sub: 'alice', exp: seconds(NOW) + 60 });
  await p.verify(token, NOW);
  const later = p.verify(token, NOW + 60_000);
  expect(later).toBeInstanceOf(Promise);
  await expect(later).rejects.toMatchObject({ code: 'AUTH_INVALID', message: 'token expired' });
});

test('time comes from the caller (the gateway clock), not the wall clock', async () => {
  // Valid for 20s in 2030: by the wall clock today it is not yet valid.
  const future = await hsToken({ sub: 'x', nbf: seconds(NOW) - 10, exp: seconds(NOW) + 10 });
  expect((await provider().verify(future, NOW)).id).toBe('x');
  await expect(Promise.resolve(provider().verify(future, NOW - 3_600_000))).rejects.toMatchObject({ message: 'token not yet valid' });
});

test('a token without exp is cached for a bounded time only', async () => {
  const p = provider();
  const token = await hsToken({ sub: 'forever' });
  await p.verify(token, NOW);
  expect(p.verify(token, NOW + 59_000)).not.toBeInstanceOf(Promise);
  expect(p.verify(token, NOW + 60_000)).toBeInstanceOf(Promise);
});
