// auth/jwt-provider: `type: jwt`: verifies a signed JWT with jose against an HMAC secret, a PEM
// public key or remote keys (jwks.ts), under the provider's algorithm allow-list, issuer, audience
// and clock skew, on the gateway's clock. Verified tokens are cached until their exp.
import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import { jwtVerify, type JWTVerifyGetKey } from 'jose';
import { GatewayError } from '../core/errors.js';
import { RemoteKeySet } from './jwks.js';
import { CachingProvider, invalid, scopesOf, subjectOf, type AuthDeps } from './provider.js';
import type { JwtProviderSpec } from './spec.js';
import type { Verified } from './verified-cache.js';

// A token without exp is answered from the cache for at most this long (its signature holds forever,
// but a reload or a revoked key should be felt soon).
export const NO_EXP_CACHE_MS = 60_000;

export class JwtProvider extends CachingProvider {
  private readonly key: KeyObject | JWTVerifyGetKey;
  private readonly jwt: JwtProviderSpec;

  constructor(spec: JwtProviderSpec, deps: AuthDeps) {
    super(spec, deps);
    this.jwt = spec;
    const k = spec.key;
    // A KeyObject made once: given raw bytes, jose would import a key on every verification.
    if (k.from === 'secret') this.key = createSecretKey(Buffer.from(k.secret, 'utf8'));
    else if (k.from === 'pem') this.key = createPublicKey(k.pem);
    else {
      const fail = (what: string, cause: unknown): GatewayError => this.unavailable(what, cause);
      this.key = new RemoteKeySet(k.from === 'jwks' ? { url: k.url } : { issuer: k.issuer }, spec.timeoutMs, deps.clock, fail).getKey;
    }
  }

  protected async check(token: string, nowMs: number): Promise<Verified> {
    const s = this.jwt;
    let payload: Record<string, unknown>;
    try {
      const options = {
        algorithms: [...s.algorithms],
        clockTolerance: Math.floor(s.clockSkewMs / 1000),
        currentDate: new Date(nowMs),
        ...(s.issuer !== null ? { issuer: s.issuer } : {}),
        ...(s.audience !== null ? { audience: [...s.audience] } : {}),
      };
      // One call per key kind: jose's overloads tell a key from a key lookup function.
      const result = typeof this.key === 'function' ? await jwtVerify(token, this.key, options) : await jwtVerify(token, this.key, options);
      payload = result.payload;
    } catch (err) {
      if (err instanceof GatewayError) throw err;
      throw invalid(reasonOf(err));
    }
    const exp = typeof payload.exp === 'number' ? payload.exp * 1000 : 0;
    return { id: subjectOf(payload), claims: payload, scopes: scopesOf(payload), expMs: exp };
  }

  // Until exp plus the skew the verification allowed: the same answer jose would give, without the work.
  protected cacheUntil(v: Verified, nowMs: number): number {
    return v.expMs === 0 ? nowMs + NO_EXP_CACHE_MS : v.expMs + this.jwt.clockSkewMs;
  }
}

// jose's error codes → the reason a client reads in WWW-Authenticate (never the token or the key).
function reasonOf(err: unknown): string {
  const e = err as { code?: unknown; claim?: unknown };
  switch (e.code) {
    case 'ERR_JWT_EXPIRED':
      return 'token expired';
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      if (e.claim === 'nbf') return 'token not yet valid';
      if (e.claim === 'iat') return 'token issued in the future';
      if (e.claim === 'iss') return 'unexpected issuer';
      if (e.claim === 'aud') return 'unexpected audience';
      return `invalid ${typeof e.claim === 'string' ? e.claim : 'claim'}`;
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return 'signing algorithm not allowed';
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return 'signature verification failed';
    case 'ERR_JWKS_NO_MATCHING_KEY':
      return 'no key matches the token (unknown kid)';
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return 'the token names no kid and several keys match';
    case 'ERR_JOSE_NOT_SUPPORTED':
      return 'unsupported token or algorithm';
    default:
      // ERR_JWS_INVALID, ERR_JWT_INVALID, a key of the wrong type for the algorithm.
      return 'malformed token';
  }
}
