// Remote keys (issue 9 item 1): a JWKS URL or OIDC discovery, cached, refreshed on an unknown kid at
// most once per cooldown (rotation without a restart), and a down or slow endpoint is a 503 with a
// log line naming the provider, never a hang.
import { test, expect } from 'vitest';
import type { GatewayConfig } from '../../../src/index.js';
import { ManualClock } from '../../../src/core/clock.js';
import { JWKS_COOLDOWN_MS, JWKS_RETRY_MS } from '../../../src/auth/jwks.js';
import { startGateway } from '../../helpers/gateway.js';
import { send, errorCodeOf, startEchoUpstream } from '../../helpers/http.js';
import { keyPair, seconds, signWith, startAuthServer } from '../../helpers/auth.js';

const NOW = Date.now();

function remoteConfig(upstreamUrl: string, provider: Record<string, unknown>): GatewayConfig {
  return {
    upstreams: { app: { targets: [{ url: upstreamUrl }] } },
    auth: { users: { type: 'jwt', algorithms: ['RS256', 'ES256'], ...provider } },
    routes: [{ name: 'api', match: { path: '/api/*' }, upstream: 'app', auth: { use: 'users' } }],
  };
}

const claims = { sub: 'alice', exp: seconds(NOW) + 3600 };

async function call(url: string, token: string): Promise<Awaited<ReturnType<typeof send>>> {
  return send(url, { headers: { authorization: `Bearer ${token}` } });
}

test('tokens verify against a JWKS URL, fetched once for many requests', async () => {
  const idp = await startAuthServer();
  const k1 = await keyPair('RS256', 'k1');
  const k2 = await keyPair('ES256', 'k2');
  idp.keys = [k1.jwk, k2.jwk];
  const up = await startEchoUpstream();
  const gw = await startGateway(remoteConfig(up.url, { jwksUrl: idp.jwksUrl }));
  for (let i = 0; i < 3; i++) {
    expect((await call(gw.url('/api/a'), await signWith(k1, { ...claims, n: i }))).status).toBe(200);
    expect((await call(gw.url('/api/a'), await signWith(k2, { ...claims, n: i }))).status).toBe(200);
  }
  expect(idp.count('/jwks')).toBe(1);
});

test('a key rotated in the JWKS while the gateway runs is picked up on its first token, and unknown kids cost one fetch per cooldown', async () => {
  const clock = new ManualClock(1000, NOW);
  const idp = await startAuthServer();
  const old = await keyPair('RS256', 'old');
  const next = await keyPair('RS256', 'new');
  idp.keys = [old.jwk];
  const up = await startEchoUpstream();
  const gw = await startGateway(remoteConfig(up.url, { jwksUrl: idp.jwksUrl }), undefined, { clock });
  expect((await call(gw.url('/api/a'), await signWith(old, claims))).status).toBe(200);
  expect(idp.count('/jwks')).toBe(1);

  // Made-up kids right after a fetch: refused without asking the JWKS again.
  for (let i = 0; i < 5; i++) {
    const res = await call(gw.url('/api/a'), await signWith(next, claims, { kid: `bogus-${i}` }));
    expect(res.headers['www-authenticate']).toContain('unknown kid');
  }
  expect(idp.count('/jwks')).toBe(1);

  idp.keys = [old.jwk, next.jwk];
  clock.advance(JWKS_COOLDOWN_MS);
  expect((await call(gw.url('/api/a'), await signWith(next, claims))).status).toBe(200);
  expect(idp.count('/jwks')).toBe(2);
  // The old key stays valid while the JWKS still lists it.
  expect((await call(gw.url('/api/a'), await signWith(old, { ...claims, n: 2 }))).status).toBe(200);
  expect(idp.count('/jwks')).toBe(2);
});

test('a token without a kid passes when one key fits and is refused when several do', async () => {
  const idp = await startAuthServer();
  const a = await keyPair('RS256', 'a');
  const b = await keyPair('RS256', 'b');
  idp.keys = [a.jwk];
  const up = await startEchoUpstream();
  const gw = await startGateway(remoteConfig(up.url, { jwksUrl: idp.jwksUrl }));
  expect((await call(gw.url('/api/a'), await signWith(a, claims, { kid: null }))).status).toBe(200);

  idp.keys = [a.jwk, b.jwk];
  const up2 = await startEchoUpstream();
  const gw2 = await startGateway(remoteConfig(up2.url, { jwksUrl: idp.jwksUrl }));
  const res = await call(gw2.url('/api/a'), await signWith(a, claims, { kid: null }));
  expect(res.status).toBe(401);
  expect(res.headers['www-authenticate']).toContain('several keys match');
});

test('issuer alone finds the JWKS by OIDC discovery and checks iss', async () => {
  const idp = await startAuthServer();
  const k = await keyPair('ES256', 'disc');
  idp.keys = [k.jwk];
  const up = await startEchoUpstream();
  const gw = await startGateway(remoteConfig(up.url, { issuer: idp.url }));
  expect((await call(gw.url('/api/a'), await signWith(k, { ...claims, iss: idp.url }))).status).toBe(200);
  expect((await call(gw.url('/api/a'), await signWith(k, { ...claims, iss: 'https://other.example.com' }))).status).toBe(401);
  expect(idp.count('/.well-known/openid-configuration')).toBe(1);
  expect(idp.count('/jwks')).toBe(1);
});

test('a JWKS endpoint that is down is a 503 AUTH_UNAVAILABLE with a log line naming the provider, retried once a second, and the upstream sees nothing', async () => {
  const clock = new ManualClock(1000, NOW);
  const idp = await startAuthServer();
  idp.mode = 'down';
  const k = await keyPair('RS256', 'k');
  const token = await signWith(k, claims);
  const up = await startEchoUpstream();
  const gw = await startGateway(remoteConfig(up.url, { jwksUrl: idp.jwksUrl }), undefined, { clock });
  const res = await call(gw.url('/api/a'), token);
  expect(res.status).toBe(503);
  expect(errorCodeOf(res)).toBe('AUTH_UNAVAILABLE');
  expect(up.requests).toHaveLength(0);
  const line = await gw.waitForLog((l) => l.code === 'AUTH_UNAVAILABLE' && l.event === 'error');
  expect(line).toMatchObject({ provider: 'users', type: 'jwt' });
  expect(String(line.reason)).toContain('answered 500');
  for (const l of gw.logs) expect(JSON.stringify(l)).not.toContain(token);

  // Within the retry delay, refused without another fetch; after it, the recovered endpoint is asked again.
  expect((await call(gw.url('/api/a'), token)).status).toBe(503);
  expect(idp.count('/jwks')).toBe(1);
  idp.mode = 'ok';
  idp.keys = [k.jwk];
  clock.advance(JWKS_RETRY_MS);
  expect((await call(gw.url('/api/a'), token)).status).toBe(200);
  expect(idp.count('/jwks')).toBe(2);
});

test('a JWKS endpoint that never answers is a 503 once the provider timeout passes, not a hang', async () => {
  const idp = await startAuthServer();
  idp.mode = 'hang';
  const k = await keyPair('RS256', 'k');
  const up = await startEchoUpstream();
  const gw = await startGateway(remoteConfig(up.url, { jwksUrl: idp.jwksUrl, timeout: '200ms' }));
  const res = await call(gw.url('/api/a'), await signWith(k, claims));
  expect(res.status).toBe(503);
  expect(errorCodeOf(res)).toBe('AUTH_UNAVAILABLE');
  const line = await gw.waitForLog((l) => l.code === 'AUTH_UNAVAILABLE');
  expect(String(line.reason)).toContain('did not answer in time');
});

test('OIDC discovery that names another issuer is refused as unavailable, never trusted', async () => {
  const idp = await startAuthServer();
  const k = await keyPair('RS256', 'k');
  idp.keys = [k.jwk];
  const up = await startEchoUpstream();
  // The configured issuer has a trailing path the document does not repeat.
  const gw = await startGateway(remoteConfig(up.url, { issuer: `${idp.url}/tenant` }));
  const res = await call(gw.url('/api/a'), await signWith(k, { ...claims, iss: `${idp.url}/tenant` }));
  expect(res.status).toBe(503);
  const line = await gw.waitForLog((l) => l.code === 'AUTH_UNAVAILABLE');
  expect(String(line.reason)).toContain('names issuer');
});
