// auth/provider: what every auth provider (jwt, introspection, apiKey) offers the route middleware,
// and the verified-token cache in front of the slow ones; not token extraction (token-source.ts).
import { GatewayError } from '../core/errors.js';
import type { Clock } from '../core/clock.js';
import { EVENTS } from '../observability/events.js';
import type { Logger } from '../observability/log.js';
import type { AuthProviderSpec } from './spec.js';
import { VerifiedCache, type Verified } from './verified-cache.js';

export interface AuthDeps {
  readonly log: Logger;
  readonly clock: Clock;
}

export interface AuthProvider {
  readonly spec: AuthProviderSpec;
  /** The identity `token` proves; rejects (or throws) a GatewayError: AUTH_INVALID, or AUTH_UNAVAILABLE. */
  verify(token: string, nowMs: number): Verified | Promise<Verified>;
  /** Stops background work (in-flight key fetches are left to finish or time out). */
  close(): void;
}

// Providers whose check is slow (a signature, a network call) answer again from this cache.
export abstract class CachingProvider implements AuthProvider {
  readonly cache = new VerifiedCache();
  private lastFailureLogMs = -Infinity;
  private suppressed = 0;

  constructor(
    readonly spec: AuthProviderSpec,
    protected readonly deps: AuthDeps,
  ) {}

  // HOT: per authenticated request; a cache hit returns synchronously.
  verify(token: string, nowMs: number): Verified | Promise<Verified> {
    const key = VerifiedCache.keyOf(token);
    const hit = this.cache.get(key, nowMs);
    if (hit !== null) return hit;
    return this.check(token, nowMs).then((v) => {
      this.cache.set(key, v, this.cacheUntil(v, nowMs), nowMs);
      return v;
    });
  }

  /** The slow check, never cached by itself. */
  protected abstract check(token: string, nowMs: number): Promise<Verified>;

  /** Until when a verified credential may be answered from the cache. */
  protected abstract cacheUntil(v: Verified, nowMs: number): number;

  close(): void {
    this.cache.clear();
  }

  // A provider that cannot decide: 503, and one log line naming the provider and what failed (never
  // the token), at most one a second so an outage does not flood the log.
  protected unavailable(what: string, cause: unknown): GatewayError {
    const err = new GatewayError('AUTH_UNAVAILABLE', `auth provider ${this.spec.name} is unavailable: ${what}`, { cause });
    const now = this.deps.clock.refresh();
    if (now - this.lastFailureLogMs >= 1000) {
      this.deps.log.error(
        { event: EVENTS.ERROR, code: err.code, provider: this.spec.name, type: this.spec.type, reason: what, ...(this.suppressed > 0 ? { suppressed: this.suppressed } : {}) },
        'auth provider unavailable',
      );
      this.lastFailureLogMs = now;
      this.suppressed = 0;
    } else {
      this.suppressed++;
    }
    return err;
  }
}

export function invalid(reason: string): GatewayError {
  return new GatewayError('AUTH_INVALID', reason);
}

// `scope` (RFC 8693 §4.2, RFC 7662: space-separated) or `scp` (a list, or a string as some issuers send).
export function scopesOf(claims: Readonly<Record<string, unknown>>): string[] {
  const out: string[] = [];
  for (const v of [claims.scope, claims.scp]) {
    if (typeof v === 'string') out.push(...v.split(' ').filter((s) => s !== ''));
    else if (Array.isArray(v)) for (const s of v) if (typeof s === 'string') out.push(s);
  }
  return out;
}

// The identity's id: who the token is about, else the client it was issued to.
export function subjectOf(claims: Readonly<Record<string, unknown>>): string {
  for (const v of [claims.sub, claims.username, claims.client_id, claims.azp]) if (typeof v === 'string' && v !== '') return v;
  return 'unknown';
}

// A fetch with a bound on the whole exchange; rejects on a non-2xx answer or a body that is not JSON.
export async function fetchJson(url: string, timeoutMs: number, init: RequestInit = {}): Promise<unknown> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
  if (res.status < 200 || res.status > 299) {
    await res.body?.cancel();
    throw new Error(`${url} answered ${res.status}`);
  }
  const text = await res.text();
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new Error(`${url} answered a body that is not JSON`);
  }
}

// Why a fetch failed, in words for the log line (a timeout, a refused connection, a status).
export function fetchFailure(url: string, err: unknown): string {
  const e = err as { name?: unknown; message?: unknown; cause?: { code?: unknown } };
  if (e.name === 'TimeoutError') return `${url} did not answer in time`;
  const code = typeof e.cause?.code === 'string' ? ` (${e.cause.code})` : '';
  return `${typeof e.message === 'string' ? e.message : String(err)}${code}`;
}
