import { test, expect } from 'vitest';
import { once } from 'node:events';
import type { GatewayConfig } from '../../../src/index.js';
import { startGateway } from '../../helpers/gateway.js';
import { startWsEcho } from '../../helpers/servers.js';
import { openWs } from '../../helpers/clients.js';
import { send, closedPort, startEchoUpstream, REQUEST_ID } from '../../helpers/http.js';

test('writes one http_request line per request with route, method, path, status, duration and request id', async () => {
  const up = await startEchoUpstream();
  const gw = await startGateway({
    upstreams: { app: { targets: [{ url: up.url }] } },
    routes: [
      { name: 'ping', match: { path: '/ping' }, respond: { json: { ok: true } } },
      { name: 'api', match: { path: '/api/*', methods: ['GET'] }, upstream: 'app', stripPrefix: '/api' },
    ],
  });
  const answers = [await send(gw.url('/api/users/1')), await send(gw.url('/ping')), await send(gw.url('/nowhere')), await send(gw.url('/api/x'), { method: 'DELETE' })];
  const requests = [['GET', '/api/users/1'], ['GET', '/ping'], ['GET', '/nowhere'], ['DELETE', '/api/x']] as const;
  const lines = await Promise.all(requests.map(([method, path]) => gw.waitForLog((l) => l.event === 'http_request' && l.method === method && l.path === path)));
  lines.forEach((line, i) => expect(line.requestId).toBe(answers[i]!.headers['x-request-id']));
  expect(lines[0]).toMatchObject({ route: 'api', method: 'GET', path: '/api/users/1', status: 200, target: up.url });
  expect(lines[1]).toMatchObject({ route: 'ping', method: 'GET', path: '/ping', status: 200 });
  expect(lines[2]).toMatchObject({ method: 'GET', path: '/nowhere', status: 404 });
  expect(lines[3]).toMatchObject({ method: 'DELETE', path: '/api/x', status: 405 });
  for (const line of lines) {
    expect(line.requestId).toMatch(REQUEST_ID);
    expect(typeof line.durationMs).toBe('number');
    expect(line.durationMs as number).toBeGreaterThanOrEqual(0);
    expect(line.client).toBe('127.0.0.1');
  }
  expect(gw.logs.filter((l) => l.event === 'http_request')).toHaveLength(4);
});

test('logs the error code on the access line of a failed exchange', async () => {
  const port = await closedPort();
  const gw = await startGateway({
    upstreams: { gone: { targets: [{ url: `http://127.0.0.1:${port}` }] } },
    routes: [{ name: 'gone', match: { path: '/*' }, upstream: 'gone' }],
  });
  const res = await send(gw.url('/x'));
  const line = await gw.waitForLog((l) => l.event === 'http_request');
  expect(line).toMatchObject({ route: 'gone', status: 502, code: 'UPSTREAM_UNAVAILABLE', requestId: res.headers['x-request-id'] });
});

test('never writes an Authorization header, a cookie or a query token into the logs', async () => {
  const SECRETS = ['Bearer sk_live_authz_0123456789', 'session=cookie_secret_0123456789', 'query_token_0123456789', 'api_key_0123456789'];
  const up = await startEchoUpstream();
  const ws = await startWsEcho();
  const port = await closedPort();
  const config: GatewayConfig = {
    upstreams: { app: { targets: [{ url: up.url }] }, ws: { targets: [{ url: ws.url }] }, gone: { targets: [{ url: `http://127.0.0.1:${port}` }] } },
    routes: [
      { name: 'app', match: { path: '/app/*' }, upstream: 'app' },
      { name: 'ws', match: { path: '/ws/*' }, upstream: 'ws' },
      { name: 'gone', match: { path: '/gone/*' }, upstream: 'gone' },
      { name: 'boom', match: { path: '/boom' }, upstream: 'app' },
    ],
  };
  const gw = await startGateway(config, (g) =>
    g.use('boom', () => {
      throw new Error('middleware exploded');
    }),
  );
  const headers = { authorization: SECRETS[0]!, cookie: SECRETS[1]! };
  const query = `?access_token=${SECRETS[2]}&api_key=${SECRETS[3]}`;
  const answers = [
    await send(gw.url(`/app/x${query}`), { headers }),
    await send(gw.url(`/gone/x${query}`), { headers }),
    await send(gw.url(`/boom${query}`), { headers }),
    await send(gw.url(`/nowhere${query}`), { headers }),
  ];
  expect(answers.map((a) => a.status)).toEqual([200, 502, 500, 404]);
  const client = await openWs(gw.wsUrl(`/ws/chat${query}`), undefined, { headers });
  client.close(1000);
  await once(client, 'close');
  await gw.waitForLog((l) => l.event === 'ws_close');
  for (const route of ['app', 'gone', 'boom', '']) await gw.waitForLog((l) => l.event === 'http_request' && l.route === route);
  // The upstream did get them: the gateway forwards credentials, it only keeps them out of its logs.
  expect(JSON.stringify(up.requests[0]!.headers)).toContain(SECRETS[0]);
  const written = JSON.stringify(gw.logs);
  for (const secret of SECRETS) expect(written).not.toContain(secret);
});
