import { test, expect } from 'vitest';
import { once } from 'node:events';
import { Gateway, type GatewayConfig } from '../../../src/index.js';
import { startGateway } from '../../helpers/gateway.js';
import { startHttpUpstream, startWsEcho } from '../../helpers/servers.js';
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
  expect(lines[1]).toMatchObject({ route: 'ping', method: 'GET', path: '/ping', status: 200, bytesIn: 0, bytesOut: answers[1]!.body.length });
  expect(lines[0]).toMatchObject({ bytesIn: 0, bytesOut: answers[0]!.body.length });
  expect(lines[2]).toMatchObject({ bytesOut: answers[2]!.body.length });
  expect(lines[2]).toMatchObject({ method: 'GET', path: '/nowhere', status: 404, code: 'ROUTE_NOT_FOUND' });
  expect(lines[3]).toMatchObject({ method: 'DELETE', path: '/api/x', status: 405, code: 'METHOD_NOT_ALLOWED' });
  expect(lines[0]!.code).toBeUndefined();
  for (const line of lines) {
    expect(line.requestId).toMatch(REQUEST_ID);
    expect(typeof line.durationMs).toBe('number');
    expect(line.durationMs as number).toBeGreaterThanOrEqual(0);
    expect(line.client).toBe('127.0.0.1');
  }
  expect(gw.logs.filter((l) => l.event === 'http_request')).toHaveLength(4);
});

test('a path refused before routing logs its code on the access line', async () => {
  const gw = await startGateway({ routes: [{ name: 'ping', match: { path: '/*' }, respond: { json: { ok: true } } }] });
  const res = await send(gw.url('/api/..%2fadmin/x'));
  expect(res.status).toBe(400);
  const line = await gw.waitForLog((l) => l.event === 'http_request');
  expect(line).toMatchObject({ status: 400, code: 'PATH_AMBIGUOUS', path: '/api/..%2fadmin/x' });
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

test('http_request carries bytes each way, user agent, upstream time, user and target (issue 10)', async () => {
  const up = await startHttpUpstream((req, res) => {
    req.resume();
    req.on('end', () => res.end('x'.repeat(300)));
  });
  const gw = await startGateway(
    { upstreams: { app: { targets: [{ url: up.url }] } }, routes: [{ name: 'app', match: { path: '/*' }, upstream: 'app' }] },
    (g) =>
      g.use('app', (ctx, next) => {
        ctx.identity = { id: 'alice' };
        return next();
      }),
  );
  const res = await send(gw.url('/upload?x=1'), { method: 'POST', body: 'y'.repeat(1234), headers: { 'user-agent': 'probe/2.0' } });
  expect(res.status).toBe(200);
  const line = await gw.waitForLog((l) => l.event === 'http_request');
  expect(line.path).toBe('/upload');
  expect(line.bytesIn).toBe(1234);
  expect(line.bytesOut).toBe(300);
  expect(line.userAgent).toBe('probe/2.0');
  expect(line.user).toBe('alice');
  expect(line.target).toBe(up.url);
  expect(typeof line.upstreamMs).toBe('number');
  expect(line.upstreamMs as number).toBeGreaterThanOrEqual(0);
  expect(line.upstreamMs as number).toBeLessThanOrEqual(line.durationMs as number);

  // A chunked body is counted as it streams.
  const chunked = await send(gw.url('/chunked'), { method: 'POST', body: 'z'.repeat(777), headers: { 'transfer-encoding': 'chunked' } });
  expect(chunked.status).toBe(200);
  const chunkedLine = await gw.waitForLog((l) => l.event === 'http_request' && l.path === '/chunked');
  expect(chunkedLine.bytesIn).toBe(777);
});

test('a 502 to a closed port logs the target and the errno', async () => {
  const port = await closedPort();
  const gw = await startGateway({
    upstreams: { gone: { targets: [{ url: `http://127.0.0.1:${port}` }] } },
    routes: [{ name: 'gone', match: { path: '/*' }, upstream: 'gone' }],
  });
  const res = await send(gw.url('/x'));
  expect(res.status).toBe(502);
  const line = await gw.waitForLog((l) => l.event === 'http_request');
  expect(line.status).toBe(502);
  expect(line.code).toBe('UPSTREAM_UNAVAILABLE');
  expect(line.target).toBe(`http://127.0.0.1:${port}`);
  expect(line.cause).toBe('ECONNREFUSED');
  expect(line.bytesOut).toBe(res.body.length); // the gateway's own JSON error
});

test('a refused WebSocket handshake to a closed port logs the target and the errno', async () => {
  const port = await closedPort();
  const gw = await startGateway({
    upstreams: { gone: { targets: [{ url: `http://127.0.0.1:${port}` }] } },
    routes: [{ name: 'gone', match: { path: '/*' }, upstream: 'gone' }],
  });
  await expect(openWs(gw.wsUrl('/ws'), undefined, { headers: { 'user-agent': 'probe/3.0' } })).rejects.toThrow();
  const line = await gw.waitForLog((l) => l.event === 'http_request');
  expect(line.websocket).toBe(true);
  expect(line.status).toBe(502);
  expect(line.target).toBe(`http://127.0.0.1:${port}`);
  expect(line.cause).toBe('ECONNREFUSED');
  expect(line.userAgent).toBe('probe/3.0');
});

test('config_loaded is written at start with a hash of the config, and on every reload: another config, another hash; the same config, the same hash', async () => {
  const up = await startEchoUpstream();
  const config: GatewayConfig = { upstreams: { app: { targets: [{ url: up.url }] } }, routes: [{ name: 'app', match: { path: '/*' }, upstream: 'app' }] };
  const gw = await startGateway(config);
  const start = await gw.waitForLog((l) => l.event === 'config_loaded');
  expect(start.trigger).toBe('start');
  expect(start.routes).toBe(1);
  expect(start.upstreams).toBe(1);
  expect(start.hash).toMatch(/^[0-9a-f]{12}$/);
  // The line comes before `listening`.
  expect(gw.logs.findIndex((l) => l.event === 'config_loaded')).toBeLessThan(gw.logs.findIndex((l) => l.event === 'listening'));

  const full = { listen: [{ port: 0, host: '127.0.0.1' }], admin: { listen: '127.0.0.1:0' }, ...config };
  expect((await gw.gw.applyConfig({ ...full, routes: [{ name: 'app', match: { path: '/api/*' }, upstream: 'app' }] })).ok).toBe(true);
  expect((await gw.gw.applyConfig(full)).ok).toBe(true);
  const reloads = gw.logs.filter((l) => l.event === 'config_loaded').slice(1);
  expect(reloads).toHaveLength(2);
  expect(reloads.map((l) => l.trigger)).toEqual(['reload', 'reload']);
  expect(reloads[0]!.hash).toMatch(/^[0-9a-f]{12}$/);
  expect(reloads[0]!.hash).not.toBe(start.hash);
  expect(reloads[1]!.hash).toBe(start.hash);
});

test('log.sample keeps a share of a route\'s successful requests and every error', async () => {
  const up = await startEchoUpstream();
  const port = await closedPort();
  const gw = await startGateway({
    upstreams: { app: { targets: [{ url: up.url }] }, gone: { targets: [{ url: `http://127.0.0.1:${port}` }] } },
    routes: [
      { name: 'busy', match: { path: '/busy/*', methods: ['GET'] }, upstream: 'app', log: { sample: 0.0001 } },
      { name: 'gone', match: { path: '/gone/*' }, upstream: 'gone', log: { sample: 0.0001 } },
      { name: 'all', match: { path: '/all/*' }, upstream: 'app' },
    ],
  });
  for (let i = 0; i < 100; i++) expect((await send(gw.url(`/busy/${i}`))).status).toBe(200);
  for (let i = 0; i < 5; i++) expect((await send(gw.url(`/gone/${i}`))).status).toBe(502);
  for (let i = 0; i < 5; i++) expect((await send(gw.url(`/busy/${i}`), { method: 'POST' })).status).toBe(405);
  expect((await send(gw.url('/all/1'))).status).toBe(200);
  await gw.waitForLog((l) => l.event === 'http_request' && l.route === 'all');
  const lines = gw.logs.filter((l) => l.event === 'http_request');
  // One in ten thousand: a line among a hundred is a 1 % chance, two or more about 0.005 %.
  expect(lines.filter((l) => l.route === 'busy' && l.status === 200).length).toBeLessThanOrEqual(1);
  expect(lines.filter((l) => l.route === 'gone' && l.status === 502)).toHaveLength(5);
  expect(lines.filter((l) => l.status === 405)).toHaveLength(5);
});

test('log.sample outside (0, 1] is a config error naming the key', () => {
  const bad: GatewayConfig = { routes: [{ name: 'r', match: { path: '/' }, respond: {}, log: { sample: 0 } }] };
  expect(() => new Gateway(bad)).toThrow(/log\.sample/);
  const tooBig: GatewayConfig = { routes: [{ name: 'r', match: { path: '/' }, respond: {}, log: { sample: 1.5 } }] };
  expect(() => new Gateway(tooBig)).toThrow(/log\.sample/);
});

test('a query token and an Authorization header never reach any log line of a run', async () => {
  const up = await startEchoUpstream();
  const ws = await startWsEcho();
  const port = await closedPort();
  const gw = await startGateway({
    upstreams: { app: { targets: [{ url: up.url }] }, ws: { targets: [{ url: ws.url }] }, gone: { targets: [{ url: `http://127.0.0.1:${port}` }] } },
    routes: [
      { name: 'app', match: { path: '/app/*' }, upstream: 'app' },
      { name: 'ws', match: { path: '/ws/*' }, upstream: 'ws' },
      { name: 'gone', match: { path: '/gone/*' }, upstream: 'gone' },
    ],
  });
  const headers = { authorization: 'Bearer secret456', 'user-agent': 'probe/4.0' };
  expect((await send(gw.url('/app/x?access_token=secret123'), { headers })).status).toBe(200);
  expect((await send(gw.url('/gone/x?access_token=secret123'), { headers })).status).toBe(502);
  expect((await send(gw.url('/nowhere?access_token=secret123'), { headers })).status).toBe(404);
  const client = await openWs(gw.wsUrl('/ws/room?access_token=secret123'), undefined, { headers });
  client.close(1000);
  await once(client, 'close');
  await gw.waitForLog((l) => l.event === 'ws_close');
  await gw.close();
  await gw.waitForLog((l) => l.event === 'stopped');
  const lines = gw.logs.map((l) => JSON.stringify(l));
  expect(lines.length).toBeGreaterThan(5);
  for (const line of lines) {
    expect(line).not.toContain('secret123');
    expect(line).not.toContain('secret456');
  }
  // The lines are there, only without the secrets.
  expect(gw.logs.filter((l) => l.event === 'http_request').map((l) => l.path)).toEqual(expect.arrayContaining(['/app/x', '/gone/x', '/nowhere']));
  expect(gw.logs.find((l) => l.event === 'ws_open')).toMatchObject({ path: '/ws/room', userAgent: 'probe/4.0' });
});

test('the config hash ignores key order, changes with a secret, and never shows the secret', async () => {
  const a = await startGateway({ admin: { listen: '127.0.0.1:0', token: 'adm1n-s3cret' }, routes: [{ name: 'r', match: { path: '/' }, respond: { status: 200, body: 'ok' } }] });
  const b = await startGateway({ routes: [{ respond: { body: 'ok', status: 200 }, match: { path: '/' }, name: 'r' }], admin: { token: 'adm1n-s3cret', listen: '127.0.0.1:0' } });
  const c = await startGateway({ admin: { listen: '127.0.0.1:0', token: 'another-s3cret' }, routes: [{ name: 'r', match: { path: '/' }, respond: { status: 200, body: 'ok' } }] });
  const [ha, hb, hc] = await Promise.all([a, b, c].map(async (g) => (await g.waitForLog((l) => l.event === 'config_loaded')).hash));
  expect(ha).toBe(hb);
  expect(hc).not.toBe(ha);
  for (const g of [a, b, c]) expect(JSON.stringify(g.logs)).not.toContain('s3cret');
});
