// Secrets never reach logs or the admin API (issue 9 item 10, SPEC sections 6 and 8): traffic carrying
// every kind of credential, accepted and refused, then every log line and admin answer searched for each.
import { createHash } from 'node:crypto';
import { test, expect } from 'vitest';
import type { GatewayConfig } from '../../../src/index.js';
import { startGateway } from '../../helpers/gateway.js';
import { closedPort, send } from '../../helpers/http.js';
import { closed, expectEcho, openWs } from '../../helpers/clients.js';
import { startWsEcho } from '../../helpers/servers.js';
import { hsToken, OTHER_SECRET, seconds, startAuthServer } from '../../helpers/auth.js';

const JWT_SECRET = 'jwt-secret-4f1d2c9e8b7a6f5e4d3c2b1a';
const CLIENT_SECRET = 'client-secret-9a8b7c6d5e4f';
const API_KEY = 'api-key-live-0f1e2d3c4b5a';
const OPAQUE = 'opaque-token-7e6d5c4b3a29';
const COOKIE_SECRET = 'session-cookie-3c2b1a0f9e8d';
const ADMIN_TOKEN = 'admin-token-5b4a39281706';

test('no credential, key or secret appears in any log line or admin answer', async () => {
  const idp = await startAuthServer();
  idp.tokens.set(OPAQUE, { active: true, sub: 'opaque-user', scope: 'chat' });
  const up = await startWsEcho({ handleProtocols: (offered) => [...offered][0] ?? false });
  const exp = seconds(Date.now()) + 3600;
  const tokens = {
    header: await hsToken({ sub: 'h', scope: 'chat', exp, n: 1 }, { secret: JWT_SECRET }),
    query: await hsToken({ sub: 'q', scope: 'chat', exp, n: 2 }, { secret: JWT_SECRET }),
    cookie: await hsToken({ sub: 'c', scope: 'chat', exp, n: 3 }, { secret: JWT_SECRET }),
    protocol: await hsToken({ sub: 'p', scope: 'chat', exp, n: 4 }, { secret: JWT_SECRET }),
    wsQuery: await hsToken({ sub: 'w', scope: 'chat', exp, n: 5 }, { secret: JWT_SECRET }),
    refused: await hsToken({ sub: 'r', scope: 'chat', exp }, { secret: OTHER_SECRET }),
    forbidden: await hsToken({ sub: 'f', scope: 'none', exp }, { secret: JWT_SECRET }),
  };
  const config: GatewayConfig = {
    admin: { listen: '127.0.0.1:0', token: ADMIN_TOKEN },
    upstreams: { app: { targets: [{ url: up.url }] } },
    auth: {
      users: { type: 'jwt', secret: JWT_SECRET, tokenFrom: ['header', 'query:access_token', 'cookie:token', 'protocol'] },
      oauth: { type: 'introspection', url: idp.introspectUrl, clientId: 'gw', clientSecret: CLIENT_SECRET },
      broken: { type: 'introspection', url: `http://127.0.0.1:${await closedPort()}/introspect`, clientId: 'gw', clientSecret: CLIENT_SECRET },
      partners: { type: 'apiKey', in: ['header:X-API-Key', 'query:api_key'], keys: [{ id: 'acme', sha256: createHash('sha256').update(API_KEY).digest('hex') }] },
    },
    routes: [
      { name: 'users', match: { path: '/users/*' }, upstream: 'app', auth: { use: 'users', scopes: ['chat'] } },
      { name: 'oauth', match: { path: '/oauth/*' }, upstream: 'app', auth: { use: 'oauth' } },
      { name: 'broken', match: { path: '/broken/*' }, upstream: 'app', auth: { use: 'broken' } },
      { name: 'partners', match: { path: '/partners/*' }, upstream: 'app', auth: { use: 'partners' } },
    ],
  };
  const gw = await startGateway(config);

  // HTTP through the ws echo upstream answers 426: what matters is that each request passed auth.
  const passed = (status: number): void => expect(status).toBe(426);
  passed((await send(gw.url('/users/a'), { headers: { authorization: `Bearer ${tokens.header}` } })).status);
  passed((await send(gw.url(`/users/a?access_token=${tokens.query}`))).status);
  passed((await send(gw.url('/users/a'), { headers: { cookie: `token=${tokens.cookie}; sid=${COOKIE_SECRET}` } })).status);
  expect((await send(gw.url('/users/a'), { headers: { authorization: `Bearer ${tokens.refused}` } })).status).toBe(401);
  expect((await send(gw.url(`/users/a?access_token=${tokens.refused}`))).status).toBe(401);
  expect((await send(gw.url('/users/a'), { headers: { authorization: `Bearer ${tokens.forbidden}` } })).status).toBe(403);
  passed((await send(gw.url('/oauth/a'), { headers: { authorization: `Bearer ${OPAQUE}` } })).status);
  expect((await send(gw.url('/broken/a'), { headers: { authorization: `Bearer ${OPAQUE}` } })).status).toBe(503);
  passed((await send(gw.url('/partners/a'), { headers: { 'x-api-key': API_KEY } })).status);
  passed((await send(gw.url(`/partners/a?api_key=${API_KEY}`))).status);

  const viaProtocol = await openWs(gw.wsUrl('/users/ws'), [`bearer.${tokens.protocol}`, 'chat']);
  const viaQuery = await openWs(gw.wsUrl(`/users/ws?access_token=${tokens.wsQuery}`), undefined, { headers: { cookie: `sid=${COOKIE_SECRET}` } });
  await expectEcho(viaProtocol, 'a');
  await expectEcho(viaQuery, 'b');

  const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
  const answers: string[] = [];
  for (const path of ['/api/config', '/api/routes', '/api/upstreams', '/api/connections', '/metrics']) {
    const res = await fetch(gw.adminUrl(path), { headers: admin });
    expect(res.status, path).toBe(200);
    answers.push(await res.text());
  }
  const list = JSON.parse(answers[3]!) as { connections: { id: string }[] };
  expect(list.connections).toHaveLength(2);
  answers.push(await (await fetch(gw.adminUrl(`/api/connections/${list.connections[0]!.id}`), { headers: admin })).text());

  const closes = [closed(viaProtocol), closed(viaQuery)];
  viaProtocol.close();
  viaQuery.close();
  await Promise.all(closes);
  await gw.waitForLog((l) => l.event === 'ws_close' && l.user === 'p');
  await gw.waitForLog((l) => l.event === 'ws_close' && l.user === 'w');
  await gw.close(); // the stopped line, too

  const logText = gw.logs.map((l) => JSON.stringify(l)).join('\n');
  const everything = `${logText}\n${answers.join('\n')}`;
  const secrets = { JWT_SECRET, CLIENT_SECRET, API_KEY, OPAQUE, COOKIE_SECRET, ADMIN_TOKEN, ...tokens };
  for (const [name, secret] of Object.entries(secrets)) {
    expect(everything.includes(secret), `${name} leaked`).toBe(false);
    // A token's signature alone (its last part) is also a secret worth not printing.
    const tail = secret.split('.').pop()!;
    expect(everything.includes(tail), `${name} (its last part) leaked`).toBe(false);
  }
  // The config answer still shows the structure, with the secrets redacted.
  const shown = JSON.parse(answers[0]!) as { auth: Record<string, Record<string, unknown>> };
  expect(shown.auth.users!.secret).toBe('[redacted]');
  expect(shown.auth.oauth!.clientSecret).toBe('[redacted]');
  expect((shown.auth.partners!.keys as { sha256: string }[])[0]!.sha256).toBe('[redacted]');
  // And the traffic did happen: the identities are there.
  expect(gw.logs.filter((l) => l.event === 'http_request').map((l) => l.user)).toEqual(expect.arrayContaining(['h', 'q', 'c', 'opaque-user', 'acme']));
  expect(gw.logs.some((l) => l.code === 'AUTH_UNAVAILABLE' && l.provider === 'broken')).toBe(true);
});
