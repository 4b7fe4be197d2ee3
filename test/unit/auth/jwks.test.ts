import { test, expect } from 'vitest';
import { jwtVerify } from 'jose';
import { RemoteKeySet } from '../../../src/auth/jwks.js';
import { ManualClock } from '../../../src/core/clock.js';
import { GatewayError } from '../../../src/core/errors.js';
import { keyPair, signWith, startAuthServer } from '../../helpers/auth.js';

const fail = (what: string, cause: unknown): GatewayError => new GatewayError('AUTH_UNAVAILABLE', what, { cause });

test('requests arriving together on a cold key set share one JWKS fetch', async () => {
  const idp = await startAuthServer();
  const k = await keyPair('ES256', 'k');
  idp.keys = [k.jwk];
  const keys = new RemoteKeySet({ url: idp.jwksUrl }, 2000, new ManualClock(1000, Date.now()), fail);
  const tokens = await Promise.all(Array.from({ length: 10 }, (_, i) => signWith(k, { sub: `u${i}` })));
  const results = await Promise.all(tokens.map((t) => jwtVerify(t, keys.getKey)));
  expect(results.map((r) => r.payload.sub)).toEqual(tokens.map((_, i) => `u${i}`));
  expect(idp.count('/jwks')).toBe(1);
});

test('keys older than maxAge are fetched again; a failed refresh keeps serving the old ones', async () => {
  const clock = new ManualClock(1000, Date.now());
  const idp = await startAuthServer();
  const k = await keyPair('RS256', 'k');
  idp.keys = [k.jwk];
  const keys = new RemoteKeySet({ url: idp.jwksUrl }, 2000, clock, fail);
  const token = await signWith(k, { sub: 'a' });
  await jwtVerify(token, keys.getKey);
  idp.mode = 'down';
  clock.advance(10 * 60_000);
  expect((await jwtVerify(token, keys.getKey)).payload.sub).toBe('a');
  expect(idp.count('/jwks')).toBe(2);
});

test('a JWKS without a keys list is AUTH_UNAVAILABLE, never an empty key set', async () => {
  const idp = await startAuthServer();
  // The discovery document is JSON, but no key set.
  const keys = new RemoteKeySet({ url: `${idp.url}/.well-known/openid-configuration` }, 2000, new ManualClock(1000, Date.now()), fail);
  const k = await keyPair('RS256', 'k');
  await expect(jwtVerify(await signWith(k, { sub: 'a' }), keys.getKey)).rejects.toMatchObject({ code: 'AUTH_UNAVAILABLE', message: expect.stringContaining('has no "keys" list') as unknown });
});
