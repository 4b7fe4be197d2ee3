import { test, expect } from 'vitest';
import { compileProvider, parseTokenSource, type JwtProviderSpec } from '../../../src/auth/spec.js';
import { GatewayError } from '../../../src/core/errors.js';

const jwt = (extra: Record<string, unknown>): JwtProviderSpec =>
  compileProvider('users', { type: 'jwt', clockSkew: '30s', tokenFrom: ['header'], closeOnExpiry: false, forwardToken: false, timeout: '5s', ...extra } as never) as JwtProviderSpec;

test('token sources parse to what the extractor reads; header names lower-cased', () => {
  expect(parseTokenSource('header')).toEqual({ from: 'bearer' });
  expect(parseTokenSource('header:X-Token')).toEqual({ from: 'header', name: 'x-token' });
  expect(parseTokenSource('query:access_token')).toEqual({ from: 'query', name: 'access_token' });
  expect(parseTokenSource('cookie:Token')).toEqual({ from: 'cookie', name: 'Token' });
  expect(parseTokenSource('protocol')).toEqual({ from: 'protocol' });
});

test('without algorithms, a secret allows HMAC only and a public key asymmetric ones only', () => {
  expect(jwt({ secret: 's' }).algorithms).toEqual(['HS256', 'HS384', 'HS512']);
  const remote = jwt({ jwksUrl: 'https://id.example.com/jwks' }).algorithms;
  expect(remote).toContain('RS256');
  expect(remote.some((a) => a.startsWith('HS'))).toBe(false);
});

test('issuer alone means OIDC discovery; durations become ms; audience becomes a list', () => {
  const s = jwt({ issuer: 'https://id.example.com', audience: 'chat' });
  expect(s.key).toEqual({ from: 'oidc', issuer: 'https://id.example.com' });
  expect(s.clockSkewMs).toBe(30_000);
  expect(s.audience).toEqual(['chat']);
});

test('the fingerprint changes with the provider config and only then', () => {
  expect(jwt({ secret: 'a' }).fingerprint).toBe(jwt({ secret: 'a' }).fingerprint);
  expect(jwt({ secret: 'a' }).fingerprint).not.toBe(jwt({ secret: 'b' }).fingerprint);
});

test('an unreadable or non-PEM publicKey fails with the key path', () => {
  expect(() => jwt({ publicKey: '/nonexistent/key.pem' })).toThrow(/^auth\.users\.publicKey: cannot read \/nonexistent\/key\.pem/);
  let err: unknown;
  try {
    jwt({ publicKey: new URL(import.meta.url).pathname });
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(GatewayError);
  expect((err as GatewayError).message).toMatch(/^auth\.users\.publicKey: .* holds no PEM public key/);
});
