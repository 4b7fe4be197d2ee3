import { createHash } from 'node:crypto';
import { test, expect } from 'vitest';
import { ApiKeyProvider } from '../../../src/auth/api-key-provider.js';
import { compileProvider, type ApiKeyProviderSpec } from '../../../src/auth/spec.js';
import { GatewayError } from '../../../src/core/errors.js';

const sha = (k: string): string => createHash('sha256').update(k).digest('hex');
const spec = compileProvider('p', {
  type: 'apiKey',
  in: ['header:X-API-Key'],
  keys: [
    { id: 'one', sha256: sha('key-one'), scopes: ['a'] },
    { id: 'two', sha256: sha('key-two').toUpperCase(), scopes: [] },
  ],
  forwardToken: false,
}) as ApiKeyProviderSpec;

test('a key is matched by its hash, whichever case the config wrote it in', () => {
  const p = new ApiKeyProvider(spec);
  expect(p.verify('key-one')).toMatchObject({ id: 'one', scopes: ['a'] });
  expect(p.verify('key-two').id).toBe('two');
});

test('an unknown key, or the hash itself, is AUTH_INVALID', () => {
  const p = new ApiKeyProvider(spec);
  for (const bad of ['key-three', sha('key-one'), '']) {
    let err: unknown;
    try {
      p.verify(bad);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).code).toBe('AUTH_INVALID');
  }
});
