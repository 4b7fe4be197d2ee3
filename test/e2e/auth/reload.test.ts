// Auth across a reload (issue 9 item 1): a provider whose config did not change is carried over
// with its remote keys and verified tokens; a changed one starts afresh and applies at once.
import { test, expect } from 'vitest';
import type { GatewayConfig } from '../../../src/index.js';
import { startGateway } from '../../helpers/gateway.js';
import { send, startEchoUpstream } from '../../helpers/http.js';
import { SECRET, hsToken, keyPair, seconds, signWith, startAuthServer } from '../../helpers/auth.js';

const NOW = Date.now();

function config(upstreamUrl: string, jwksUrl: string, audience: string, extraRoute = false): GatewayConfig {
  return {
    listen: [{ port: 0, host: '127.0.0.1' }],
    admin: { listen: '127.0.0.1:0' },
    upstreams: { app: { targets: [{ url: upstreamUrl }] } },
    auth: {
      remote: { type: 'jwt', jwksUrl, algorithms: ['RS256'] },
      local: { type: 'jwt', secret: SECRET, audience },
    },
    routes: [
      { name: 'remote', match: { path: '/remote/*' }, upstream: 'app', auth: { use: 'remote' } },
      { name: 'local', match: { path: '/local/*' }, upstream: 'app', auth: { use: 'local' } },
      ...(extraRoute ? [{ name: 'extra', match: { path: '/extra' }, respond: { status: 204 } }] : []),
    ],
  };
}

test('an unchanged provider keeps its fetched JWKS over a reload; a changed one applies its new audience at once', async () => {
  const idp = await startAuthServer();
  const k = await keyPair('RS256', 'k');
  idp.keys = [k.jwk];
  const up = await startEchoUpstream();
  const gw = await startGateway(config(up.url, idp.jwksUrl, 'v1'));
  const remote = { authorization: `Bearer ${await signWith(k, { sub: 'a', exp: seconds(NOW) + 600 })}` };
  const v1 = { authorization: `Bearer ${await hsToken({ sub: 'b', aud: 'v1', exp: seconds(NOW) + 600 })}` };
  expect((await send(gw.url('/remote/x'), { headers: remote })).status).toBe(200);
  expect((await send(gw.url('/local/x'), { headers: v1 })).status).toBe(200);
  expect(idp.count('/jwks')).toBe(1);

  const result = await gw.gw.applyConfig(config(up.url, idp.jwksUrl, 'v2', true));
  expect(result.ok).toBe(true);
  // The JWKS is not fetched again: the remote provider and its keys carried over.
  expect((await send(gw.url('/remote/x'), { headers: remote })).status).toBe(200);
  expect(idp.count('/jwks')).toBe(1);
  // The local provider changed: a v1 token, verified and cached before, is refused now.
  expect((await send(gw.url('/local/x'), { headers: v1 })).status).toBe(401);
});

test('a reload naming an unknown provider is rejected with "did you mean" and the running auth stays', async () => {
  const idp = await startAuthServer();
  const up = await startEchoUpstream();
  const gw = await startGateway(config(up.url, idp.jwksUrl, 'v1'));
  const bad = config(up.url, idp.jwksUrl, 'v1');
  bad.routes![1] = { name: 'local', match: { path: '/local/*' }, upstream: 'app', auth: { use: 'locl' } };
  const result = await gw.gw.applyConfig(bad);
  expect(result.ok).toBe(false);
  expect(result.problems).toContainEqual({ path: 'routes[1].auth.use', message: 'unknown auth provider "locl" (did you mean "local"?)' });
  expect((await send(gw.url('/local/x'))).status).toBe(401);
});
