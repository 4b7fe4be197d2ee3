// auth/introspection-provider: `type: introspection`: opaque OAuth2 tokens checked with the
// authorization server's RFC 7662 endpoint (client credentials in HTTP Basic, §2.1). An active
// answer is cached for cacheFor and never past the token's exp; concurrent requests with the same
// token share one call.
import { CachingProvider, fetchFailure, fetchJson, invalid, scopesOf, subjectOf, type AuthDeps } from './provider.js';
import type { IntrospectionProviderSpec } from './spec.js';
import { VerifiedCache, type Verified } from './verified-cache.js';

export class IntrospectionProvider extends CachingProvider {
  private readonly introspection: IntrospectionProviderSpec;
  private readonly authorization: string | null;
  private readonly pending = new Map<string, Promise<Verified>>();

  constructor(spec: IntrospectionProviderSpec, deps: AuthDeps) {
    super(spec, deps);
    this.introspection = spec;
    // RFC 6749 §2.3.1: client id and secret are form-encoded before they join in Basic.
    this.authorization =
      spec.clientId === null ? null : `Basic ${Buffer.from(`${encodeURIComponent(spec.clientId)}:${encodeURIComponent(spec.clientSecret ?? '')}`).toString('base64')}`;
  }

  protected check(token: string, nowMs: number): Promise<Verified> {
    const key = VerifiedCache.keyOf(token);
    let p = this.pending.get(key);
    if (p === undefined) {
      p = this.introspect(token, nowMs).finally(() => this.pending.delete(key));
      this.pending.set(key, p);
    }
    return p;
  }

  private async introspect(token: string, nowMs: number): Promise<Verified> {
    const s = this.introspection;
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    if (this.authorization !== null) headers.authorization = this.authorization;
    let body: unknown;
    try {
      body = await fetchJson(s.url, s.timeoutMs, { method: 'POST', headers, body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString() });
    } catch (err) {
      throw this.unavailable(`introspection ${fetchFailure(s.url, err)}`, err);
    }
    if (body === null || typeof body !== 'object' || typeof (body as { active?: unknown }).active !== 'boolean') {
      throw this.unavailable(`introspection ${s.url} answered without a boolean "active"`, null);
    }
    const claims = body as Record<string, unknown>;
    if (claims.active !== true) throw invalid('token is not active');
    const expMs = typeof claims.exp === 'number' ? claims.exp * 1000 : 0;
    // The server said active; an exp already past means our clocks disagree: trust the stricter.
    if (expMs !== 0 && expMs <= nowMs) throw invalid('token expired');
    return { id: subjectOf(claims), claims, scopes: scopesOf(claims), expMs };
  }

  protected cacheUntil(v: Verified, nowMs: number): number {
    const until = nowMs + this.introspection.cacheForMs;
    return v.expMs === 0 ? until : Math.min(until, v.expMs);
  }
}
