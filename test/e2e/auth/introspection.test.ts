// Opaque OAuth2 tokens (issue 9 item 2): RFC 7662 introspection against an endpoint the test starts,
// with client credentials, answers cached for cacheFor and never past the token's exp, and a down or
// slow endpoint answered 503.
import { test, expect } from 'vitest';
import type { GatewayConfig } from '../../../src/index.js';
import { ManualClock } from '../../../src/core/clock.js';
import { startGateway } from '../../helpers/gateway.js';
import { send, seenOf, errorCodeOf, startEchoUpstream } from '../../helpers/http.js';
import { seconds, startAuthServer } from '../../helpers/auth.js';

const NOW = Date.now();
const CLIENT_AUTH = `Basic ${Buffer.from('gateway:s3cret').toString('base64')}`;

function oauthConfig(upstreamUrl: string, introspectUrl: string, provider: Record<string, unknown> = {}): GatewayConfig {
  return {
    upstreams: { app: { targets: [{ url: upstreamUrl }] } },
    auth: {
      oauth: { type: 'introspection', url: introspectUrl, clientId: 'gateway', clientSecret: 's3cret', forwardClaims: { sub: 'X-User-Id' }, ...provider },
    },
    routes: [{ name: 'api', match: { path: '/api/*' }, upstream: 'app', auth: { use: 'oauth', scopes: ['read'] } }],
  };
}

function bearer(token: string): { headers: Record<string, string> } {
  return { headers: { authorization: `Bearer ${token}` } };
}

test('an active opaque token passes with its subject forwarded; inactive and unknown ones are 401', async () => {
  const idp = await startAuthServer();
  idp.clientAuth = CLIENT_AUTH;
  idp.tokens.set('opaque-good', { active: true, sub: 'bob', scope: 'read write', exp: seconds(NOW) + 600 });
  idp.tokens.set('opaque-revoked', { active: false });
  const up = await startEchoUpstream();
  const gw = await startGateway(oauthConfig(up.url, idp.introspectUrl));
  const res = await send(gw.url('/api/x'), bearer('opaque-good'));
  expect(res.status).toBe(200);
  expect(seenOf(res).headers['x-user-id']).toBe('bob');
  expect(idp.requests[0]).toMatchObject({ path: '/introspect', authorization: CLIENT_AUTH, body: 'token=opaque-good&token_type_hint=access_token' });
  for (const token of ['opaque-revoked', 'never-issued']) {
    const bad = await send(gw.url('/api/x'), bearer(token));
    expect(bad.status).toBe(401);
    expect(bad.headers['www-authenticate']).toContain('token is not active');
  }
  expect(up.requests).toHaveLength(1);
});

test('an active token without the route scope is 403', async () => {
  const idp = await startAuthServer();
  idp.tokens.set('writer', { active: true, sub: 'bob', scope: 'write' });
  const up = await startEchoUpstream();
  const gw = await startGateway(oauthConfig(up.url, idp.introspectUrl));
  const res = await send(gw.url('/api/x'), bearer('writer'));
  expect(res.status).toBe(403);
  expect(errorCodeOf(res)).toBe('AUTH_FORBIDDEN');
});

test('answers are cached for cacheFor, and never past the token exp', async () => {
  const clock = new ManualClock(1000, NOW);
  const idp = await startAuthServer();
  idp.tokens.set('long', { active: true, sub: 'bob', scope: 'read', exp: seconds(NOW) + 3600 });
  const up = await startEchoUpstream();
  const gw = await startGateway(oauthConfig(up.url, idp.introspectUrl, { cacheFor: '60s' }), undefined, { clock });
  const calls = (): number => idp.count('/introspect');

  for (let i = 0; i < 3; i++) expect((await send(gw.url('/api/x'), bearer('long'))).status).toBe(200);
  expect(calls()).toBe(1);
  clock.advance(59_000);
  expect((await send(gw.url('/api/x'), bearer('long'))).status).toBe(200);
  expect(calls()).toBe(1);
  clock.advance(1_000);
  expect((await send(gw.url('/api/x'), bearer('long'))).status).toBe(200);
  expect(calls()).toBe(2);

  // 60s into the test: a token with 20s left is cached 20s, not cacheFor's 60s.
  idp.tokens.set('short', { active: true, sub: 'eve', scope: 'read', exp: seconds(NOW + 60_000) + 20 });
  expect((await send(gw.url('/api/x'), bearer('short'))).status).toBe(200);
  expect(calls()).toBe(3);
  // Revoked at the server and past its exp: the cache does not keep it alive.
  idp.tokens.set('short', { active: false });
  clock.advance(21_000);
  expect((await send(gw.url('/api/x'), bearer('short'))).status).toBe(401);
  expect(calls()).toBe(4);
});

test('an introspection endpoint that is down or too slow is a 503 AUTH_UNAVAILABLE naming the provider in the log', async () => {
  const idp = await startAuthServer();
  idp.mode = 'hang';
  const up = await startEchoUpstream();
  const gw = await startGateway(oauthConfig(up.url, idp.introspectUrl, { timeout: '200ms' }));
  const res = await send(gw.url('/api/x'), bearer('opaque-anything'));
  expect(res.status).toBe(503);
  expect(errorCodeOf(res)).toBe('AUTH_UNAVAILABLE');
  const line = await gw.waitForLog((l) => l.code === 'AUTH_UNAVAILABLE');
  expect(line).toMatchObject({ event: 'error', provider: 'oauth', type: 'introspection' });
  expect(JSON.stringify(line)).not.toContain('opaque-anything');
  expect(JSON.stringify(line)).not.toContain('s3cret');
  idp.mode = 'down';
  expect((await send(gw.url('/api/x'), bearer('opaque-other'))).status).toBe(503);
  expect(up.requests).toHaveLength(0);
});
