// JWT providers on HTTP routes (issue 9 items 1 and 4): every kind of bad token is a 401 with its
// reason, scopes are a 403, and the upstream only ever sees requests that passed.
import { readFileSync } from 'node:fs';
import { test, expect } from 'vitest';
import type { GatewayConfig } from '../../../src/index.js';
import { startGateway } from '../../helpers/gateway.js';
import { send, seenOf, errorCodeOf, startEchoUpstream } from '../../helpers/http.js';
import { SECRET, OTHER_SECRET, confusedToken, hsToken, keyPair, pemFile, seconds, signWith, unsignedToken } from '../../helpers/auth.js';

const NOW = Date.now();

function jwtConfig(upstreamUrl: string, provider: Record<string, unknown> = {}, scopes: string[] = []): GatewayConfig {
  return {
    upstreams: { app: { targets: [{ url: upstreamUrl }] } },
    auth: {
      users: {
        type: 'jwt',
        secret: SECRET,
        algorithms: ['HS256'],
        issuer: 'https://id.example.com',
        audience: 'chat',
        ...provider,
      },
    },
    routes: [
      { name: 'api', match: { path: '/api/*' }, upstream: 'app', auth: { use: 'users', scopes } },
      { name: 'open', match: { path: '/open' }, upstream: 'app' },
    ],
  };
}

const good = { sub: 'alice', iss: 'https://id.example.com', aud: 'chat', exp: seconds(NOW) + 3600, scope: 'chat read' };

function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

test('a valid HS256 token passes, its subject reaches the access log, and the upstream gets no Authorization', async () => {
  const up = await startEchoUpstream();
  const gw = await startGateway(jwtConfig(up.url));
  const res = await send(gw.url('/api/me'), { headers: bearer(await hsToken(good)) });
  expect(res.status).toBe(200);
  expect(seenOf(res).headers.authorization).toBeUndefined();
  const line = await gw.waitForLog((l) => l.event === 'http_request');
  expect(line).toMatchObject({ route: 'api', status: 200, user: 'alice' });
});

test('a request without a token is 401 AUTH_MISSING with a Bearer challenge, and the upstream sees nothing', async () => {
  const up = await startEchoUpstream();
  const gw = await startGateway(jwtConfig(up.url));
  const res = await send(gw.url('/api/me'));
  expect(res.status).toBe(401);
  expect(errorCodeOf(res)).toBe('AUTH_MISSING');
  expect(res.headers['www-authenticate']).toBe('Bearer realm="wsgate"');
  expect(up.requests).toHaveLength(0);
  const basic = await send(gw.url('/api/me'), { headers: { authorization: 'Basic YWxpY2U6cHc=' } });
  expect(errorCodeOf(basic)).toBe('AUTH_MISSING');
  expect((await send(gw.url('/open'))).status).toBe(200);
});

test.each([
  ['an expired token', async () => hsToken({ ...good, exp: seconds(NOW) - 3600 }), 'token expired'],
  ['a token not yet valid', async () => hsToken({ ...good, nbf: seconds(NOW) + 3600 }), 'token not yet valid'],
  ['a token for another audience', async () => hsToken({ ...good, aud: 'billing' }), 'unexpected audience'],
  ['a token from another issuer', async () => hsToken({ ...good, iss: 'https://evil.example.com' }), 'unexpected issuer'],
  ['a token signed with another secret', async () => hsToken(good, { secret: OTHER_SECRET }), 'signature verification failed'],
  ['an HS512 token on an HS256-only provider', async () => hsToken(good, { alg: 'HS512' }), 'signing algorithm not allowed'],
  ['an unsigned token (alg: none)', async () => Promise.resolve(unsignedToken(good)), 'signing algorithm not allowed'],
  ['garbage', async () => Promise.resolve('not.a.jwt'), 'malformed token'],
])('%s is 401 AUTH_INVALID with error="invalid_token" and its reason', async (_name, mint, reason) => {
  const up = await startEchoUpstream();
  const gw = await startGateway(jwtConfig(up.url));
  const res = await send(gw.url('/api/me'), { headers: bearer(await mint()) });
  expect(res.status).toBe(401);
  expect(errorCodeOf(res)).toBe('AUTH_INVALID');
  expect(res.headers['www-authenticate']).toBe(`Bearer realm="wsgate", error="invalid_token", error_description="${reason}"`);
  expect(up.requests).toHaveLength(0);
});

test('clockSkew lets a token expired a few seconds ago through, and no further', async () => {
  const up = await startEchoUpstream();
  const gw = await startGateway(jwtConfig(up.url, { clockSkew: '30s' }));
  const recent = await send(gw.url('/api/me'), { headers: bearer(await hsToken({ ...good, exp: seconds(NOW) - 5 })) });
  expect(recent.status).toBe(200);
  const old = await send(gw.url('/api/me'), { headers: bearer(await hsToken({ ...good, exp: seconds(NOW) - 120 })) });
  expect(old.status).toBe(401);
});

test('a token without a scope the route requires is 403 AUTH_FORBIDDEN with error="insufficient_scope"', async () => {
  const up = await startEchoUpstream();
  const gw = await startGateway(jwtConfig(up.url, {}, ['admin']));
  const res = await send(gw.url('/api/me'), { headers: bearer(await hsToken(good)) });
  expect(res.status).toBe(403);
  expect(errorCodeOf(res)).toBe('AUTH_FORBIDDEN');
  expect(res.headers['www-authenticate']).toBe('Bearer realm="wsgate", error="insufficient_scope", scope="admin"');
  expect(up.requests).toHaveLength(0);
  // `scp` as a list (Azure AD, Okta) counts too.
  const scp = await send(gw.url('/api/me'), { headers: bearer(await hsToken({ ...good, scope: undefined, scp: ['admin'] })) });
  expect(scp.status).toBe(200);
});

test('forwardClaims sends claims as headers and strips the copies a client forged', async () => {
  const up = await startEchoUpstream();
  const gw = await startGateway(jwtConfig(up.url, { forwardClaims: { sub: 'X-User-Id', scope: 'X-User-Scopes', tenant: 'X-Tenant' } }));
  const res = await send(gw.url('/api/me'), { headers: { ...bearer(await hsToken(good)), 'x-user-id': 'mallory', 'x-tenant': 'forged' } });
  const seen = seenOf(res);
  expect(seen.headers['x-user-id']).toBe('alice');
  expect(seen.headers['x-user-scopes']).toBe('chat read');
  // The token has no tenant claim: the forged header is gone, not kept.
  expect(seen.headers['x-tenant']).toBeUndefined();
});

test('forwardToken: true keeps Authorization for an upstream that reads the token itself', async () => {
  const up = await startEchoUpstream();
  const gw = await startGateway(jwtConfig(up.url, { forwardToken: true }));
  const token = await hsToken(good);
  expect(seenOf(await send(gw.url('/api/me'), { headers: bearer(token) })).headers.authorization).toBe(`Bearer ${token}`);
});

test('tokens from a query parameter or a cookie pass, and the query parameter never reaches the upstream', async () => {
  const up = await startEchoUpstream();
  const gw = await startGateway(jwtConfig(up.url, { tokenFrom: ['header', 'query:access_token', 'cookie:token'] }));
  const token = await hsToken(good);
  const q = await send(gw.url(`/api/me?a=1&access_token=${token}&b=2`));
  expect(q.status).toBe(200);
  expect(seenOf(q).url).toBe('/api/me?a=1&b=2');
  const c = await send(gw.url('/api/me'), { headers: { cookie: `theme=dark; token=${token}` } });
  expect(c.status).toBe(200);
  // A refused query token is stripped too (and never logged: the access log has no query).
  const bad = await send(gw.url('/api/me?access_token=nope'));
  expect(bad.status).toBe(401);
  for (const l of gw.logs) expect(JSON.stringify(l)).not.toContain(token);
});

test('an RS256 provider with a PEM public key accepts its tokens and refuses HS256 signed with the public key (algorithm confusion)', async () => {
  const pair = await keyPair('RS256');
  const file = await pemFile(pair);
  const up = await startEchoUpstream();
  const gw = await startGateway(jwtConfig(up.url, { secret: undefined, publicKey: file, algorithms: undefined }));
  expect((await send(gw.url('/api/me'), { headers: bearer(await signWith(pair, good)) })).status).toBe(200);
  const forged = await confusedToken(readFileSync(file, 'utf8'), good);
  const res = await send(gw.url('/api/me'), { headers: bearer(forged) });
  expect(res.status).toBe(401);
  expect(res.headers['www-authenticate']).toContain('signing algorithm not allowed');
  const other = await keyPair('RS256');
  expect((await send(gw.url('/api/me'), { headers: bearer(await signWith(other, good)) })).status).toBe(401);
  expect(up.requests).toHaveLength(1);
});

test.each(['ES256', 'PS256', 'EdDSA'] as const)('a %s provider with a PEM public key verifies its tokens', async (alg) => {
  const pair = await keyPair(alg);
  const up = await startEchoUpstream();
  const gw = await startGateway(jwtConfig(up.url, { secret: undefined, publicKey: await pemFile(pair), algorithms: [alg] }));
  expect((await send(gw.url('/api/me'), { headers: bearer(await signWith(pair, good)) })).status).toBe(200);
  expect((await send(gw.url('/api/me'), { headers: bearer(await hsToken(good)) })).status).toBe(401);
});
