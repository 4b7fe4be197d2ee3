// auth/jwks: a provider's remote keys: a JWKS URL, or an OIDC issuer whose discovery document names
// it. Fetched on first use, kept for maxAge, fetched again when a token names an unknown `kid` (key
// rotation without a restart) at most once per cooldown, so a flood of made-up kids costs no fetches.
// A failed refresh keeps the keys it had; with none, the caller gets AUTH_UNAVAILABLE.
import { createLocalJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import type { Clock } from '../core/clock.js';
import { GatewayError } from '../core/errors.js';
import { fetchFailure, fetchJson } from './provider.js';

export const JWKS_MAX_AGE_MS = 10 * 60_000;
export const JWKS_COOLDOWN_MS = 10_000;
// With no keys at all, a failed fetch is retried no sooner than this: an outage costs the endpoint
// one request a second, not one per client request.
export const JWKS_RETRY_MS = 1_000;

type KeyFn = ReturnType<typeof createLocalJWKSet>;

export class RemoteKeySet {
  private keys: KeyFn | null = null;
  private fetchedAtMs = -Infinity;
  private jwksUrl: string | null;
  private readonly issuer: string | null;
  private inFlight: Promise<void> | null = null;
  private lastFailure: GatewayError | null = null;

  // `fail(what, cause)` turns a fetch failure into the provider's AUTH_UNAVAILABLE (and logs it).
  constructor(
    source: { readonly url: string } | { readonly issuer: string },
    private readonly timeoutMs: number,
    private readonly clock: Clock,
    private readonly fail: (what: string, cause: unknown) => GatewayError,
  ) {
    this.jwksUrl = 'url' in source ? source.url : null;
    this.issuer = 'issuer' in source ? source.issuer : null;
  }

  // jose's key lookup: the key for the token's header (kid, alg), refreshing once on an unknown kid.
  readonly getKey: JWTVerifyGetKey = async (header, token) => {
    const now = this.clock.refresh();
    if (this.keys === null && this.lastFailure !== null && now - this.fetchedAtMs < JWKS_RETRY_MS) throw this.lastFailure;
    if (this.keys === null || now - this.fetchedAtMs >= JWKS_MAX_AGE_MS) await this.refresh(this.keys === null);
    try {
      return await this.keys!(header, token);
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'ERR_JWKS_NO_MATCHING_KEY' || now - this.fetchedAtMs < JWKS_COOLDOWN_MS) throw err;
      await this.refresh(false);
      return this.keys!(header, token);
    }
  };

  // One fetch at a time, shared by every request waiting on it. `required`: no keys to fall back on.
  private async refresh(required: boolean): Promise<void> {
    this.inFlight ??= this.load().finally(() => {
      this.inFlight = null;
    });
    try {
      await this.inFlight;
    } catch (err) {
      if (required || this.keys === null) throw err;
      // Keep serving the keys we have; the next unknown kid or maxAge tries again after the cooldown.
    }
  }

  private async load(): Promise<void> {
    // Stamped first: a failing endpoint is retried after the cooldown, not on every request.
    this.fetchedAtMs = this.clock.refresh();
    try {
      await this.fetchKeys();
      this.lastFailure = null;
    } catch (err) {
      this.lastFailure = err instanceof GatewayError ? err : this.fail('JWKS could not be loaded', err);
      throw this.lastFailure;
    }
  }

  private async fetchKeys(): Promise<void> {
    const url = this.jwksUrl ?? (await this.discover());
    let body: unknown;
    try {
      body = await fetchJson(url, this.timeoutMs, { headers: { accept: 'application/json' } });
    } catch (err) {
      throw this.fail(`JWKS ${fetchFailure(url, err)}`, err);
    }
    const keys = (body as { keys?: unknown } | null)?.keys;
    if (!Array.isArray(keys)) throw this.fail(`JWKS ${url} has no "keys" list`, null);
    try {
      this.keys = createLocalJWKSet(body as JSONWebKeySet);
    } catch (err) {
      throw this.fail(`JWKS ${url} is not a valid key set`, err);
    }
    this.fetchedAtMs = this.clock.refresh();
  }

  // OIDC Discovery 1.0 §4: {issuer}/.well-known/openid-configuration names jwks_uri; its `issuer`
  // must be the one configured (§4.3), or the document could hand out someone else's keys.
  private async discover(): Promise<string> {
    const issuer = this.issuer!;
    const url = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
    let doc: unknown;
    try {
      doc = await fetchJson(url, this.timeoutMs, { headers: { accept: 'application/json' } });
    } catch (err) {
      throw this.fail(`OIDC discovery ${fetchFailure(url, err)}`, err);
    }
    const d = doc as { issuer?: unknown; jwks_uri?: unknown } | null;
    if (d?.issuer !== issuer) throw this.fail(`OIDC discovery ${url} names issuer ${JSON.stringify(d?.issuer)}, not ${issuer}`, null);
    if (typeof d.jwks_uri !== 'string' || !/^https?:\/\//.test(d.jwks_uri)) throw this.fail(`OIDC discovery ${url} has no jwks_uri`, null);
    this.jwksUrl = d.jwks_uri;
    return d.jwks_uri;
  }
}
