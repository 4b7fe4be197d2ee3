// auth/middleware: a route's `auth: { use, scopes }` as built-in middleware: finds the credential,
// asks the provider, checks scopes, sets ctx.identity, forwards claims as headers, and removes the
// credential before the upstream. Refusals are 401 (AUTH_MISSING, AUTH_INVALID) or 403
// (AUTH_FORBIDDEN) with RFC 6750 §3 WWW-Authenticate, or 503 (AUTH_UNAVAILABLE); on a WebSocket
// route they come before any upstream is contacted.
import type { Clock } from '../core/clock.js';
import { GatewayError } from '../core/errors.js';
import type { Context, GatewayContext, Middleware, Next } from '../middleware/chain.js';
import type { AuthProvider } from './provider.js';
import type { RouteAuthSpec } from './spec.js';
import { findToken } from './token-source.js';
import type { Verified } from './verified-cache.js';

const REALM = 'realm="wsgate"';
// What setUpstreamHeader accepts (RFC 9110 §5.5); a claim that does not fit is not forwarded.
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

export function createAuthMiddleware(provider: AuthProvider, route: RouteAuthSpec, clock: Clock): Middleware {
  const spec = provider.spec;
  // RFC 6750 §3.1: a request without credentials gets the challenge alone, no error code.
  const scheme = spec.type === 'apiKey' ? 'ApiKey' : 'Bearer';
  const missing: [string, string][] = [['www-authenticate', `${scheme} ${REALM}`]];
  const forbidden: [string, string][] = [['www-authenticate', `${scheme} ${REALM}, error="insufficient_scope", scope="${route.scopes.join(' ')}"`]];
  const queryNames = spec.sources.flatMap((s) => (s.from === 'query' ? [s.name] : []));
  // The credential's own header goes no further unless forwardToken (the upstream trusts the gateway).
  const credentialHeaders = spec.forwardToken ? [] : spec.sources.flatMap((s) => (s.from === 'bearer' ? ['authorization'] : s.from === 'header' ? [s.name] : []));
  const claimHeaders = spec.forwardClaims;
  const required = route.scopes;
  const closeOnExpiry = spec.type !== 'apiKey' && spec.closeOnExpiry;
  const identityType = spec.type;

  const admit = (ctx: GatewayContext, v: Verified, next: Next): unknown => {
    for (const scope of required) {
      if (!v.scopes.includes(scope)) {
        ctx.identity = { id: v.id, provider: spec.name, type: identityType };
        ctx.refuse(new GatewayError('AUTH_FORBIDDEN', `the credential lacks scope "${scope}"`), forbidden);
        return undefined;
      }
    }
    ctx.identity = { id: v.id, claims: v.claims, provider: spec.name, type: identityType };
    for (const [claim, header] of claimHeaders) {
      const value = claimValue(v.claims[claim]);
      if (value !== null) ctx.setUpstreamHeader(header, value);
    }
    if (closeOnExpiry && ctx.websocket && v.expMs > 0) ctx.expiresAt = v.expMs;
    return next();
  };

  const refuse = (ctx: GatewayContext, err: unknown): void => {
    if (!(err instanceof GatewayError)) throw err;
    const headers: [string, string][] = err.code === 'AUTH_INVALID' ? [['www-authenticate', `${scheme} ${REALM}, error="invalid_token", error_description="${err.message}"`]] : [];
    ctx.refuse(err, headers);
  };

  // HOT: per request on an authenticated route; a cached credential never leaves the tick.
  return function auth(c: Context, next: Next): unknown {
    const ctx = c as GatewayContext;
    // A query credential never reaches the upstream, found or not, valid or not.
    if (queryNames.length > 0 && ctx.req.url?.includes('?') === true) for (const name of queryNames) ctx.removeQueryParam(name);
    // A client cannot forge what forwardClaims vouches for.
    for (const [, header] of claimHeaders) ctx.removeUpstreamHeader(header);
    const found = findToken(ctx.req, spec.sources);
    if (found === null) {
      ctx.refuse(new GatewayError('AUTH_MISSING', `route ${ctx.route.name} needs a credential (${describeSources(provider)})`), missing);
      return undefined;
    }
    if (found.protocolEntry !== null) ctx.removeProtocol(found.protocolEntry);
    for (const h of credentialHeaders) ctx.removeUpstreamHeader(h);
    let result: Verified | Promise<Verified>;
    try {
      result = provider.verify(found.token, clock.refresh());
    } catch (err) {
      refuse(ctx, err);
      return undefined;
    }
    if (result instanceof Promise) {
      return result.then(
        (v) => admit(ctx, v, next),
        (err: unknown) => refuse(ctx, err),
      );
    }
    return admit(ctx, result, next);
  };
}

function describeSources(provider: AuthProvider): string {
  return provider.spec.sources
    .map((s) => (s.from === 'bearer' ? 'Authorization: Bearer' : s.from === 'protocol' ? 'Sec-WebSocket-Protocol bearer.<token>' : `${s.from} ${s.name}`))
    .join(', ');
}

// A claim as a header value: strings as they are, numbers and booleans in words, lists joined by
// commas (RFC 9110 §5.3), objects as JSON; null when it would not fit in a header.
function claimValue(v: unknown): string | null {
  let text: string;
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') text = v;
  else if (typeof v === 'number' || typeof v === 'boolean') text = String(v);
  else if (Array.isArray(v) && v.every((x) => typeof x === 'string')) text = v.join(',');
  else text = JSON.stringify(v);
  return HEADER_VALUE.test(text) ? text : null;
}
