// Auth on WebSocket routes (issue 9 items 1 and 4): tokens from the subprotocol list or the query
// (the browser's ways), stripped before the upstream; refusals before any upstream is contacted;
// closeOnExpiry on the gateway's clock; the identity in logs and the connection list.
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { test, expect } from 'vitest';
import WebSocket from 'ws';
import type { GatewayConfig } from '../../../src/index.js';
import { ManualClock } from '../../../src/core/clock.js';
import { startGateway } from '../../helpers/gateway.js';
import { closed, expectEcho, openWs, rawHttp } from '../../helpers/clients.js';
import { startRawUpstream, startWsEcho } from '../../helpers/servers.js';
import { handshakeRequest } from '../../helpers/ws.js';
import { hsToken, OTHER_SECRET, SECRET, seconds } from '../../helpers/auth.js';

const NOW = Date.now();

function wsConfig(upstreamUrl: string, provider: Record<string, unknown> = {}, websocket: Record<string, unknown> = {}): GatewayConfig {
  return {
    upstreams: { chat: { targets: [{ url: upstreamUrl }] } },
    auth: {
      users: { type: 'jwt', secret: SECRET, tokenFrom: ['header', 'query:access_token', 'protocol'], ...provider },
    },
    routes: [{ name: 'chat', match: { path: '/ws/*' }, upstream: 'chat', auth: { use: 'users', scopes: ['chat'] }, websocket }],
  };
}

// The clock jumps by tens of seconds at once: no heartbeat deadline may pass in between.
const NO_HEARTBEAT = { pingInterval: '0s' };

const claims = { sub: 'alice', scope: 'chat', exp: seconds(NOW) + 3600 };

test('a token offered as the subprotocol bearer.<token> opens the tunnel, and the upstream is offered only the real subprotocol', async () => {
  const up = await startWsEcho({ handleProtocols: (offered) => [...offered][0] ?? false });
  const gw = await startGateway(wsConfig(up.url));
  const token = await hsToken(claims);
  const ws = await openWs(gw.wsUrl('/ws/room'), [`bearer.${token}`, 'chat.v1']);
  expect(ws.protocol).toBe('chat.v1');
  await expectEcho(ws, 'hello');
  expect(up.handshakes[0]!.headers['sec-websocket-protocol']).toBe('chat.v1');
  const open = await gw.waitForLog((l) => l.event === 'ws_open');
  expect(open).toMatchObject({ user: 'alice', protocol: 'chat.v1' });
  const list = (await (await fetch(gw.adminUrl('/api/connections'))).json()) as { connections: { user: string; protocol: string }[] };
  expect(list.connections).toMatchObject([{ user: 'alice', protocol: 'chat.v1' }]);
  ws.close();
});

test('a token in ?access_token= opens the tunnel; the upstream, the logs and the connection list never see it', async () => {
  const up = await startWsEcho();
  const gw = await startGateway(wsConfig(up.url));
  const token = await hsToken(claims);
  const ws = await openWs(gw.wsUrl(`/ws/room?access_token=${token}&room=7`));
  await expectEcho(ws, 'hi');
  expect(up.handshakes[0]!.url).toBe('/ws/room?room=7');
  const list = await (await fetch(gw.adminUrl('/api/connections'))).text();
  expect(list).not.toContain(token);
  const done = closed(ws);
  ws.close(1000, 'bye');
  await done;
  await gw.waitForLog((l) => l.event === 'ws_close');
  for (const l of gw.logs) expect(JSON.stringify(l)).not.toContain(token);
});

test.each([
  ['no token', {}, 401, 'AUTH_MISSING'],
  ['a token signed with another secret', { authorization: 'BAD' }, 401, 'AUTH_INVALID'],
  ['a token without the chat scope', { authorization: 'NOSCOPE' }, 403, 'AUTH_FORBIDDEN'],
] as const)('a handshake with %s is refused before the upstream sees a single byte', async (_name, how, status, code) => {
  let upstreamBytes = 0;
  let upstreamConnections = 0;
  const up = await startRawUpstream((socket) => {
    upstreamConnections++;
    socket.on('data', (c: Buffer) => (upstreamBytes += c.length));
  });
  const gw = await startGateway(wsConfig(up.url));
  const lines: Record<string, string> = {};
  if ('authorization' in how) {
    const token = how.authorization === 'BAD' ? await hsToken(claims, { secret: OTHER_SECRET }) : await hsToken({ ...claims, scope: 'read' });
    lines.Authorization = `Bearer ${token}`;
  }
  const answer = await rawHttp(gw.port, handshakeRequest(gw.port, '/ws/room', lines));
  expect(answer.status).toBe(status);
  expect((JSON.parse(answer.body) as { error: { code: string } }).error.code).toBe(code);
  expect(answer.headers['www-authenticate']).toMatch(/^Bearer realm="wsgate"/);
  expect(upstreamConnections).toBe(0);
  expect(upstreamBytes).toBe(0);
});

test('closeOnExpiry closes the tunnel with 1008 "token expired" when the gateway clock passes exp', async () => {
  const clock = new ManualClock(1000, NOW);
  const up = await startWsEcho();
  const gw = await startGateway(wsConfig(up.url, { closeOnExpiry: true }, NO_HEARTBEAT), undefined, { clock });
  const ws = await openWs(gw.wsUrl('/ws/room'), undefined, { headers: { authorization: `Bearer ${await hsToken({ ...claims, exp: seconds(NOW) + 60 })}` } });
  clock.advance(50_000);
  await expectEcho(ws, 'still valid');
  const done = closed(ws);
  clock.advance(11_000 + clock.tick);
  expect(await done).toEqual({ code: 1008, reason: 'token expired' });
  const line = await gw.waitForLog((l) => l.event === 'ws_close');
  expect(line).toMatchObject({ code: 1008, initiator: 'gateway', error: 'WS_TOKEN_EXPIRED', user: 'alice' });
});

test('without closeOnExpiry a tunnel outlives its token', async () => {
  const clock = new ManualClock(1000, NOW);
  const up = await startWsEcho();
  const gw = await startGateway(wsConfig(up.url, {}, NO_HEARTBEAT), undefined, { clock });
  const ws = await openWs(gw.wsUrl('/ws/room'), undefined, { headers: { authorization: `Bearer ${await hsToken({ ...claims, exp: seconds(NOW) + 60 })}` } });
  clock.advance(120_000);
  await expectEcho(ws, 'no expiry here');
  ws.close();
});

test('a browser-like handshake: Origin is checked first, then the token; a client without Origin still needs the token', async () => {
  const up = await startWsEcho();
  const gw = await startGateway(wsConfig(up.url, {}, { origins: ['https://app.example.com'] }));
  const token = await hsToken(claims);
  const refused = async (url: string, origin?: string): Promise<number> => {
    const ws = new WebSocket(url, origin === undefined ? {} : { origin });
    ws.on('error', () => undefined);
    const [, res] = (await once(ws, 'unexpected-response')) as [unknown, IncomingMessage];
    res.resume();
    return res.statusCode ?? 0;
  };
  const browser = await openWs(gw.wsUrl(`/ws/room?access_token=${token}`), undefined, { origin: 'https://app.example.com' });
  await expectEcho(browser, 'from the page');
  browser.close();
  expect(await refused(gw.wsUrl(`/ws/room?access_token=${token}`), 'https://evil.example.com')).toBe(403);
  expect(await refused(gw.wsUrl('/ws/room'), 'https://app.example.com')).toBe(401);
  expect(await refused(gw.wsUrl('/ws/room'))).toBe(401);
  const tool = await openWs(gw.wsUrl('/ws/room'), undefined, { headers: { authorization: `Bearer ${token}` } });
  await expectEcho(tool, 'from a script');
  tool.close();
  expect(up.handshakes).toHaveLength(2);
});
