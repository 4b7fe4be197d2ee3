// admin.token (SPEC sections 2 and 6): every /api endpoint needs `Authorization: Bearer <token>`;
// the probes a balancer or an orchestrator calls stay open.
import { expect, test } from 'vitest';
import { Gateway, type GatewayConfig } from '../../../src/index.js';
import { checkConfig } from '../../../src/config/check.js';
import { startGateway, type TestGateway } from '../../helpers/gateway.js';
import { startWsEcho } from '../../helpers/servers.js';
import { closed, openWs } from '../../helpers/clients.js';

const TOKEN = 's3cr3t-admin-token-42';

function config(echoUrl: string, token = TOKEN): GatewayConfig {
  return {
    listen: [{ port: 0, host: '127.0.0.1' }],
    admin: { listen: '127.0.0.1:0', token },
    upstreams: { realtime: { targets: [{ url: echoUrl }] } },
    routes: [{ name: 'chat', match: { path: '/chat/*' }, upstream: 'realtime' }],
  };
}

async function call(gw: TestGateway, method: string, path: string, authorization?: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(gw.adminUrl(path), { method, headers: authorization === undefined ? {} : { authorization } });
  return { status: res.status, body: await res.json() };
}

const API: [string, string][] = [
  ['GET', '/api/routes'],
  ['GET', '/api/upstreams'],
  ['GET', '/api/connections'],
  ['GET', '/api/connections/0123456789abcdef'],
  ['DELETE', '/api/connections/0123456789abcdef'],
  ['GET', '/api/config'],
  ['POST', '/api/reload'],
  ['GET', '/api/unknown'],
];

test('with admin.token set, every /api call without the right bearer token answers 401 JSON', async () => {
  const gw = await startGateway(config((await startWsEcho()).url));
  const wrong = [undefined, `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, `bearer ${TOKEN}`, TOKEN, `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}`, 'Bearer '];
  for (const [method, path] of API) {
    for (const authorization of wrong) {
      const res = await call(gw, method, path, authorization);
      expect({ method, path, authorization, status: res.status }).toEqual({ method, path, authorization, status: 401 });
      expect(res.body).toEqual({ error: { code: 'UNAUTHORIZED', message: expect.stringContaining('Bearer') as unknown } });
    }
  }
});

test('with the right bearer token the /api endpoints answer', async () => {
  const gw = await startGateway(config((await startWsEcho()).url));
  const auth = `Bearer ${TOKEN}`;
  for (const path of ['/api/routes', '/api/upstreams', '/api/connections', '/api/config']) {
    expect({ path, status: (await call(gw, 'GET', path, auth)).status }).toEqual({ path, status: 200 });
  }
  expect((await call(gw, 'GET', '/api/unknown', auth)).status).toBe(404);

  // An operator close goes through with the token.
  const ws = await openWs(gw.wsUrl('/chat/room'));
  const { connections } = (await call(gw, 'GET', '/api/connections', auth)).body as { connections: { id: string }[] };
  const wsClosed = closed(ws);
  expect((await call(gw, 'DELETE', `/api/connections/${connections[0]!.id}`, auth)).status).toBe(202);
  expect(await wsClosed).toEqual({ code: 1008, reason: 'closed by operator' });
});

test('with admin.token set, /healthz and /readyz need no token', async () => {
  const gw = await startGateway(config((await startWsEcho()).url));
  expect(await call(gw, 'GET', '/healthz')).toEqual({ status: 200, body: { status: 'ok' } });
  expect(await call(gw, 'GET', '/readyz')).toEqual({ status: 200, body: { status: 'ready' } });
});

test('a reload that changes admin.token reports that it needs a restart, and the running token still applies', async () => {
  const echoUrl = (await startWsEcho()).url;
  const gw = await startGateway(config(echoUrl));
  const result = await gw.gw.applyConfig(config(echoUrl, 'another-token'));
  expect(result.ok).toBe(true);
  expect(result.message).toContain('admin changes need a restart');
  expect((await call(gw, 'GET', '/api/routes', 'Bearer another-token')).status).toBe(401);
  expect((await call(gw, 'GET', '/api/routes', `Bearer ${TOKEN}`)).status).toBe(200);
  expect(await gw.waitForLog((l) => l.event === 'config_loaded' && l.trigger === 'reload')).toMatchObject({ notes: ['admin changes need a restart'] });
});

test('a non-loopback admin address without admin.token is refused before anything listens', () => {
  const raw = { admin: { listen: '0.0.0.0:9901' }, routes: [] };
  const { config: checked, problems } = checkConfig(raw);
  expect(checked).toBeNull();
  expect(problems).toEqual([{ path: 'admin.listen', message: expect.stringContaining('refusing a non-loopback admin address without admin.token') as unknown }]);
  expect(() => new Gateway(raw)).toThrow(/admin\.listen/);
  // With a token it is accepted.
  expect(checkConfig({ admin: { listen: '0.0.0.0:9901', token: TOKEN }, routes: [] }).problems).toEqual([]);
});
