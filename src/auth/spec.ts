// auth/spec: the compiled form of the `auth` providers and of a route's `auth` (durations in ms,
// PEM files read, token sources parsed), built once by compileAuth(); not verification (providers).
import { createHash, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseDuration } from '../core/duration.js';
import { GatewayError } from '../core/errors.js';
import type { AuthProviderConfig, GatewayConfig, RouteConfig } from '../config/schema.js';

// Where a credential is read. `bearer`: Authorization: Bearer <token>. `header`: a header's whole
// value (a leading `Bearer ` is dropped). `protocol`: a Sec-WebSocket-Protocol entry `bearer.<token>`.
export type TokenSource =
  | { readonly from: 'bearer' }
  | { readonly from: 'protocol' }
  | { readonly from: 'header'; readonly name: string } // lower-cased
  | { readonly from: 'query' | 'cookie'; readonly name: string };

interface ProviderCommon {
  readonly name: string;
  readonly sources: readonly TokenSource[];
  readonly forwardClaims: readonly (readonly [claim: string, header: string])[]; // headers lower-cased
  readonly forwardToken: boolean;
  // Same fingerprint, same provider: a reload keeps it (and its caches) when this did not change.
  readonly fingerprint: string;
}

export type JwtKeySpec =
  | { readonly from: 'secret'; readonly secret: string }
  | { readonly from: 'pem'; readonly pem: string; readonly file: string }
  | { readonly from: 'jwks'; readonly url: string }
  | { readonly from: 'oidc'; readonly issuer: string };

export interface JwtProviderSpec extends ProviderCommon {
  readonly type: 'jwt';
  readonly key: JwtKeySpec;
  readonly algorithms: readonly string[];
  readonly issuer: string | null;
  readonly audience: readonly string[] | null;
  readonly clockSkewMs: number;
  readonly closeOnExpiry: boolean;
  readonly timeoutMs: number;
}

export interface IntrospectionProviderSpec extends ProviderCommon {
  readonly type: 'introspection';
  readonly url: string;
  readonly clientId: string | null;
  readonly clientSecret: string | null;
  readonly cacheForMs: number;
  readonly closeOnExpiry: boolean;
  readonly timeoutMs: number;
}

export interface ApiKeySpec {
  readonly id: string;
  readonly sha256: Buffer; // 32 bytes
  readonly scopes: readonly string[];
}

export interface ApiKeyProviderSpec extends ProviderCommon {
  readonly type: 'apiKey';
  readonly keys: readonly ApiKeySpec[];
}

export type AuthProviderSpec = JwtProviderSpec | IntrospectionProviderSpec | ApiKeyProviderSpec;

export interface RouteAuthSpec {
  readonly use: string;
  readonly scopes: readonly string[];
}

export const HMAC_ALGORITHMS: readonly string[] = ['HS256', 'HS384', 'HS512'];
export const ASYMMETRIC_ALGORITHMS: readonly string[] = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

export function parseTokenSource(text: string): TokenSource {
  if (text === 'header') return { from: 'bearer' };
  if (text === 'protocol') return { from: 'protocol' };
  const colon = text.indexOf(':');
  const from = text.slice(0, colon) as 'header' | 'query' | 'cookie';
  const name = text.slice(colon + 1);
  return from === 'header' ? { from, name: name.toLowerCase() } : { from, name };
}

function forwardClaimsOf(map: Record<string, string> | undefined): [string, string][] {
  return Object.entries(map ?? {}).map(([claim, header]) => [claim, header.toLowerCase()]);
}

// Reads and parses the PEM now, so a bad file fails the load or the reload with the key's path.
function readPem(name: string, file: string): string {
  const at = `auth.${name}.publicKey`;
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    throw new GatewayError('CONFIG_UNREADABLE', `${at}: cannot read ${file} (${(err as Error).message})`, { cause: err });
  }
  try {
    createPublicKey(pem);
  } catch (err) {
    throw new GatewayError('CONFIG_UNREADABLE', `${at}: ${file} holds no PEM public key or certificate (write an SPKI "BEGIN PUBLIC KEY" block or a certificate)`, { cause: err });
  }
  return pem;
}

function fingerprintOf(config: AuthProviderConfig, extra: string): string {
  return createHash('sha256').update(JSON.stringify(config)).update('\0').update(extra).digest('base64url');
}

export function compileProvider(name: string, p: AuthProviderConfig): AuthProviderSpec {
  if (p.type === 'apiKey') {
    return {
      type: 'apiKey',
      name,
      sources: p.in.map(parseTokenSource),
      forwardClaims: forwardClaimsOf(p.forwardClaims),
      forwardToken: p.forwardToken,
      keys: p.keys.map((k) => ({ id: k.id, sha256: Buffer.from(k.sha256, 'hex'), scopes: k.scopes })),
      fingerprint: fingerprintOf(p, ''),
    };
  }
  const common = {
    name,
    sources: p.tokenFrom.map(parseTokenSource),
    forwardClaims: forwardClaimsOf(p.forwardClaims),
    forwardToken: p.forwardToken,
    closeOnExpiry: p.closeOnExpiry,
    timeoutMs: parseDuration(p.timeout),
  };
  if (p.type === 'introspection') {
    return {
      type: 'introspection',
      ...common,
      url: p.url,
      clientId: p.clientId ?? null,
      clientSecret: p.clientSecret ?? null,
      cacheForMs: parseDuration(p.cacheFor),
      fingerprint: fingerprintOf(p, ''),
    };
  }
  let key: JwtKeySpec;
  if (p.secret !== undefined) key = { from: 'secret', secret: p.secret };
  else if (p.publicKey !== undefined) key = { from: 'pem', pem: readPem(name, p.publicKey), file: p.publicKey };
  else if (p.jwksUrl !== undefined) key = { from: 'jwks', url: p.jwksUrl };
  else key = { from: 'oidc', issuer: p.issuer ?? '' };
  // Without `algorithms`: what the key can verify. HMAC never joins an asymmetric key's list, so a
  // token signed with the public key as an HMAC secret (the classic confusion) cannot pass.
  const algorithms = p.algorithms ?? (key.from === 'secret' ? HMAC_ALGORITHMS : ASYMMETRIC_ALGORITHMS);
  return {
    type: 'jwt',
    ...common,
    key,
    algorithms,
    issuer: p.issuer ?? null,
    audience: p.audience === undefined ? null : Array.isArray(p.audience) ? p.audience : [p.audience],
    clockSkewMs: parseDuration(p.clockSkew),
    fingerprint: fingerprintOf(p, key.from === 'pem' ? key.pem : ''),
  };
}

export function compileAuth(config: GatewayConfig): ReadonlyMap<string, AuthProviderSpec> {
  const out = new Map<string, AuthProviderSpec>();
  for (const [name, p] of Object.entries(config.auth ?? {})) out.set(name, compileProvider(name, p));
  return out;
}

export function compileRouteAuth(auth: RouteConfig['auth']): RouteAuthSpec | null {
  return auth === undefined ? null : { use: auth.use, scopes: auth.scopes };
}
