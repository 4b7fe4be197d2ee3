import { test, expect } from 'vitest';
import { checkConfig, formatProblems } from '../../../src/config/check.js';

function withAuth(auth: Record<string, unknown>, routes: unknown[] = []): unknown {
  return { upstreams: { app: { targets: [{ url: 'http://127.0.0.1:3000' }] } }, auth, routes };
}
const route = (use: string, extra: Record<string, unknown> = { upstream: 'app' }) => ({ name: `r-${use}`, match: { path: `/${use}` }, ...extra, auth: { use } });

function problemAt(raw: unknown, path: string): string {
  const { problems } = checkConfig(raw);
  const found = problems.filter((p) => p.path === path);
  expect(found, formatProblems(problems)).toHaveLength(1);
  return found[0]!.message;
}

test('a valid config with one provider of each type passes', () => {
  const { problems } = checkConfig(
    withAuth(
      {
        users: { type: 'jwt', secret: 's', algorithms: ['HS256'], tokenFrom: ['header', 'query:access_token', 'cookie:token', 'protocol'], forwardClaims: { sub: 'X-User-Id' }, closeOnExpiry: true },
        idp: { type: 'jwt', issuer: 'https://id.example.com', audience: ['a', 'b'] },
        oauth: { type: 'introspection', url: 'https://id.example.com/introspect', clientId: 'gw', clientSecret: 'x', cacheFor: '30s' },
        keys: { type: 'apiKey', in: ['header:X-API-Key', 'query:api_key'], keys: [{ id: 'acme', sha256: 'a'.repeat(64), scopes: ['orders'] }] },
      },
      [route('users'), route('idp'), route('oauth'), route('keys')],
    ),
  );
  expect(problems).toEqual([]);
});

test('a route naming an unknown provider gets "did you mean"', () => {
  expect(problemAt(withAuth({ users: { type: 'jwt', secret: 's' } }, [route('usres')]), 'routes[0].auth.use')).toBe('unknown auth provider "usres" (did you mean "users"?)');
  expect(problemAt(withAuth({}, [route('users')]), 'routes[0].auth.use')).toBe('unknown auth provider "users": define it under the top-level auth key');
});

test('"none" is never an algorithm', () => {
  expect(problemAt(withAuth({ users: { type: 'jwt', secret: 's', algorithms: ['none'] } }), 'auth.users.algorithms[0]')).toMatch(/^"none" is never allowed/);
});

test('HS algorithms need secret, asymmetric ones a public key', () => {
  expect(problemAt(withAuth({ u: { type: 'jwt', jwksUrl: 'https://x/jwks', algorithms: ['RS256', 'HS256'] } }), 'auth.u.algorithms')).toMatch(/^HS256 need secret/);
  expect(problemAt(withAuth({ u: { type: 'jwt', secret: 's', algorithms: ['RS256'] } }), 'auth.u.algorithms')).toMatch(/^RS256 need a public key/);
});

test('a jwt provider needs exactly one key source', () => {
  expect(problemAt(withAuth({ u: { type: 'jwt', algorithms: ['HS256'] } }), 'auth.u')).toMatch(/needs a key: secret/);
  expect(problemAt(withAuth({ u: { type: 'jwt', secret: 's', jwksUrl: 'https://x/jwks' } }), 'auth.u.jwksUrl')).toMatch(/takes one key source/);
});

test('unknown types, token sources and bad key hashes are named', () => {
  expect(problemAt(withAuth({ u: { type: 'saml' } }), 'auth.u.type')).toMatch(/jwt, introspection or apiKey/);
  expect(problemAt(withAuth({ u: { type: 'jwt', secret: 's', tokenFrom: ['body'] } }), 'auth.u.tokenFrom[0]')).toMatch(/header, header:NAME, query:NAME, cookie:NAME or protocol/);
  expect(problemAt(withAuth({ k: { type: 'apiKey', keys: [{ id: 'a', sha256: 'plaintext' }] } }), 'auth.k.keys[0].sha256')).toMatch(/wsgate hash-key/);
});

test('duplicate key ids or hashes are refused', () => {
  const h = 'b'.repeat(64);
  const raw = withAuth({ k: { type: 'apiKey', keys: [{ id: 'a', sha256: h }, { id: 'a', sha256: h.toUpperCase() }] } });
  expect(problemAt(raw, 'auth.k.keys[1].id')).toMatch(/duplicate key id "a"/);
  expect(problemAt(raw, 'auth.k.keys[1].sha256')).toMatch(/same key hash as keys\[0\]/);
});

test('a protocol-only provider on a respond route (no WebSocket can arrive) is refused', () => {
  const raw = withAuth({ ws: { type: 'jwt', secret: 's', tokenFrom: ['protocol'] } }, [route('ws', { respond: { status: 200 } })]);
  expect(problemAt(raw, 'routes[0].auth.use')).toMatch(/only from the WebSocket subprotocol/);
});

test('clientSecret without clientId is refused', () => {
  expect(problemAt(withAuth({ o: { type: 'introspection', url: 'https://x/i', clientSecret: 's' } }), 'auth.o.clientSecret')).toMatch(/needs clientId/);
});
