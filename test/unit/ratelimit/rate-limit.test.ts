import type { IncomingMessage } from 'node:http';
import { expect, test } from 'vitest';
import type { RateKey } from '../../../src/config/compile.js';
import type { Context, Identity } from '../../../src/middleware/chain.js';
import { clientKey } from '../../../src/ratelimit/rate-limit.js';

// clientKey reads only the address, the identity and the request's headers.
function ctxOf(identity: Identity | null, headers: IncomingMessage['headers'] = {}): Context {
  return { clientAddress: '203.0.113.9', identity, req: { headers } as IncomingMessage } as Context;
}

const USER: Identity = { id: 'alice', provider: 'users', type: 'jwt' };
const PARTNER: Identity = { id: 'acme', provider: 'partners', type: 'apiKey' };

test('ip keys by the client address', () => {
  expect(clientKey({ from: 'ip' }, ctxOf(USER))).toBe('203.0.113.9');
});

test('user keys by the identity, and falls back to the address without one', () => {
  const key: RateKey = { from: 'user' };
  expect(clientKey(key, ctxOf(USER))).toBe('u:alice');
  expect(clientKey(key, ctxOf(PARTNER))).toBe('u:acme');
  expect(clientKey(key, ctxOf(null))).toBe('i:203.0.113.9');
});

test('apiKey keys by an API key identity only; a JWT user or no identity falls back to the address', () => {
  const key: RateKey = { from: 'apiKey' };
  expect(clientKey(key, ctxOf(PARTNER))).toBe('k:acme');
  expect(clientKey(key, ctxOf(USER))).toBe('i:203.0.113.9');
  expect(clientKey(key, ctxOf(null))).toBe('i:203.0.113.9');
});

test('header:NAME keys by the value (repeats joined); without the header, by the address', () => {
  const key: RateKey = { from: 'header', name: 'x-tenant' };
  expect(clientKey(key, ctxOf(null, { 'x-tenant': 'globex' }))).toBe('h:globex');
  expect(clientKey(key, ctxOf(null, { 'x-tenant': ['a', 'b'] as unknown as string }))).toBe('h:a, b');
  expect(clientKey(key, ctxOf(null))).toBe('i:203.0.113.9');
  // A header value that looks like the address fallback cannot take its bucket.
  expect(clientKey(key, ctxOf(null, { 'x-tenant': 'i:203.0.113.9' }))).not.toBe('i:203.0.113.9');
});
