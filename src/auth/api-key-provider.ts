// auth/api-key-provider: `type: apiKey`: keys the config holds only as SHA-256 hashes. A presented
// key is hashed once and compared with every configured hash in constant time (no early exit), so
// neither the answer's timing nor a config dump gives a key away.
import { createHash, timingSafeEqual } from 'node:crypto';
import { invalid, type AuthProvider } from './provider.js';
import type { ApiKeyProviderSpec } from './spec.js';
import type { Verified } from './verified-cache.js';

export class ApiKeyProvider implements AuthProvider {
  private readonly identities: readonly Verified[];

  constructor(readonly spec: ApiKeyProviderSpec) {
    this.identities = spec.keys.map((k) => ({ id: k.id, claims: { sub: k.id, scope: k.scopes.join(' ') }, scopes: k.scopes, expMs: 0 }));
  }

  // HOT: per request on an apiKey route: one sha256 and n 32-byte comparisons.
  verify(key: string): Verified {
    const digest = createHash('sha256').update(key).digest();
    let found = -1;
    const keys = this.spec.keys;
    for (let i = 0; i < keys.length; i++) {
      if (timingSafeEqual(digest, keys[i]!.sha256) && found === -1) found = i;
    }
    if (found === -1) throw invalid('unknown API key');
    return this.identities[found]!;
  }

  close(): void {
    // Holds nothing.
  }
}
