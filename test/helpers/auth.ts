// test/helpers/auth: tokens minted with jose for auth tests (HMAC, key pairs, unsigned), and one
// authorization server on 127.0.0.1:0 that serves a JWKS, an OIDC discovery document and an RFC 7662
// introspection endpoint, any of which the test can take down, slow down or rotate.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { startHttpUpstream } from './servers.js';
import { tempDir } from './cli.js';

export const SECRET = 'a-test-hmac-secret-that-is-long-enough';
export const OTHER_SECRET = 'another-hmac-secret-nobody-configured';

// Seconds since the epoch for a clock's ms (jose's NumericDate).
export function seconds(ms: number): number {
  return Math.floor(ms / 1000);
}

export interface MintOptions {
  secret?: string;
  alg?: 'HS256' | 'HS384' | 'HS512';
  kid?: string;
}

/** An HMAC-signed JWT with exactly these claims (no defaults added). */
export async function hsToken(claims: JWTPayload, options: MintOptions = {}): Promise<string> {
  const header = { alg: options.alg ?? 'HS256', typ: 'JWT', ...(options.kid !== undefined ? { kid: options.kid } : {}) };
  return new SignJWT(claims).setProtectedHeader(header).sign(new TextEncoder().encode(options.secret ?? SECRET));
}

export interface KeyPair {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  jwk: JWK; // public, with kid, alg and use
}

export async function keyPair(alg: 'RS256' | 'PS256' | 'ES256' | 'ES384' | 'EdDSA' = 'RS256', kid = 'key-1'): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}) });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicKey, jwk };
}

/** A JWT signed with the pair's private key; `kid: null` leaves the kid out. */
export async function signWith(pair: KeyPair, claims: JWTPayload, options: { kid?: string | null } = {}): Promise<string> {
  const kid = options.kid === undefined ? pair.kid : options.kid;
  return new SignJWT(claims).setProtectedHeader({ alg: pair.alg, typ: 'JWT', ...(kid !== null ? { kid } : {}) }).sign(pair.privateKey);
}

/** The public key as a PEM file in a temporary directory; returns its path. */
export async function pemFile(pair: KeyPair): Promise<string> {
  const file = join(tempDir('wsgate-auth-'), `${pair.kid}.pem`);
  writeFileSync(file, await exportSPKI(pair.publicKey));
  return file;
}

/** `alg: none`: a header and claims with an empty signature. */
export function unsignedToken(claims: JWTPayload): string {
  const part = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`;
}

/** HS256 signed with `key` as the HMAC secret: the algorithm-confusion attack on an RS256 verifier. */
export async function confusedToken(pem: string, claims: JWTPayload): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(pem));
}

export type Mode = 'ok' | 'down' | 'hang';

export interface AuthServer {
  url: string;         // the issuer
  jwksUrl: string;
  introspectUrl: string;
  /** Every request the server received, in order. */
  requests: { path: string; authorization: string | undefined; body: string }[];
  /** The JWKS it serves. */
  keys: JWK[];
  /** ok: answers; down: 500; hang: never answers. */
  mode: Mode;
  /** Introspection answers by token; any other token is `{ active: false }`. */
  tokens: Map<string, Record<string, unknown>>;
  /** What /introspect requires in Authorization (null: nothing). */
  clientAuth: string | null;
  count(path: string): number;
}

export async function startAuthServer(): Promise<AuthServer> {
  const state = {
    requests: [] as AuthServer['requests'],
    keys: [] as JWK[],
    mode: 'ok' as Mode,
    tokens: new Map<string, Record<string, unknown>>(),
    clientAuth: null as string | null,
  };
  let base = '';
  const up = await startHttpUpstream((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const path = req.url ?? '/';
      server.requests.push({ path, authorization: req.headers.authorization, body });
      if (server.mode === 'hang') return;
      if (server.mode === 'down') {
        res.writeHead(500).end('down');
        return;
      }
      const json = (status: number, v: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(v));
      };
      // Under any prefix, always naming the server's root as issuer (a test of a mismatched issuer uses a prefix).
      if (path.endsWith('/.well-known/openid-configuration')) return json(200, { issuer: base, jwks_uri: `${base}/jwks` });
      if (path === '/jwks') return json(200, { keys: server.keys });
      if (path === '/introspect' && req.method === 'POST') {
        if (server.clientAuth !== null && req.headers.authorization !== server.clientAuth) return json(401, { error: 'invalid_client' });
        const token = new URLSearchParams(body).get('token') ?? '';
        return json(200, server.tokens.get(token) ?? { active: false });
      }
      json(404, { error: 'not found' });
    });
  });
  base = up.url;
  const server: AuthServer = {
    url: base,
    jwksUrl: `${base}/jwks`,
    introspectUrl: `${base}/introspect`,
    ...state,
    count: (path) => server.requests.filter((r) => r.path === path).length,
  };
  return server;
}
