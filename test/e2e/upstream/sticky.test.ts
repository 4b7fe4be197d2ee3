// Sticky sessions and `balance: hash` end to end: which target a client reaches over HTTP and
// WebSocket, the cookie that pins it (on an HTTP answer and on a 101), and the re-pick when the
// pinned target is gone or unknown.
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { expect, test } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { startGateway, type TestGateway } from '../../helpers/gateway.js';
import { send, type HttpResult } from '../../helpers/http.js';
import { startHttpUpstream, type Upstream } from '../../helpers/servers.js';
import type { GatewayConfig } from '../../../src/index.js';

// A target that names itself: in an HTTP answer's body, and in the first message of a WebSocket.
async function startNamed(name: string): Promise<Upstream> {
  const up = await startHttpUpstream((_req, res) => {
    res.setHeader('content-type', 'text/plain');
    res.end(name);
  });
  const wss = new WebSocketServer({ server: up.server });
  wss.on('connection', (ws) => {
    ws.on('error', () => ws.terminate());
    ws.send(name);
  });
  return up;
}

// Two targets a and b (round robin starts with a) behind one route; `upstream` adds keys.
async function gatewayFor(upstream: Record<string, unknown>): Promise<{ gw: TestGateway; a: Upstream; b: Upstream }> {
  const a = await startNamed('a');
  const b = await startNamed('b');
  const config: GatewayConfig = {
    upstreams: { app: { targets: [{ url: a.url }, { url: b.url }], ...upstream } },
    routes: [{ name: 'app', match: { path: '/*' }, upstream: 'app' }],
  };
  return { gw: await startGateway(config), a, b };
}

// `sid=<id>` out of an answer's Set-Cookie, checking the attributes the gateway promises.
function stickyCookieOf(setCookie: readonly string[] | undefined): string {
  expect(setCookie).toHaveLength(1);
  const line = setCookie![0]!;
  expect(line).toMatch(/^sid=[A-Za-z0-9_-]+; Path=\/; HttpOnly; SameSite=Lax$/);
  return line.slice(0, line.indexOf(';'));
}

async function get(gw: TestGateway, cookie?: string): Promise<HttpResult & { name: string }> {
  const res = await send(gw.url('/'), { headers: cookie === undefined ? {} : { cookie } });
  expect(res.status).toBe(200);
  return { ...res, name: res.body.toString() };
}

// One WebSocket through the gateway: the target's name and the Set-Cookie lines of the 101.
async function visitWs(gw: TestGateway, cookie?: string): Promise<{ name: string; setCookie: string[] | undefined }> {
  const ws = new WebSocket(gw.wsUrl('/ws'), { headers: cookie === undefined ? {} : { cookie } });
  let setCookie: string[] | undefined;
  ws.on('upgrade', (res: IncomingMessage) => {
    setCookie = res.headers['set-cookie'];
  });
  const [data] = (await once(ws, 'message')) as [Buffer];
  ws.close();
  await once(ws, 'close');
  return { name: data.toString(), setCookie };
}

test('the first answer pins the client in a cookie, and requests with it stay on that target', async () => {
  const { gw } = await gatewayFor({ sticky: { cookie: 'sid' } });
  const first = await get(gw);
  const cookie = stickyCookieOf(first.headers['set-cookie']);
  for (let i = 0; i < 6; i++) {
    const res = await get(gw, `theme=dark; ${cookie}`);
    expect(res.name).toBe(first.name);
    expect(res.headers['set-cookie']).toBeUndefined(); // already pinned there: nothing to reset
  }
  // Without the cookie the upstream is still round robin: two requests reach both targets.
  const unpinned = [await get(gw), await get(gw)];
  expect(unpinned.map((r) => r.name).sort()).toEqual(['a', 'b']);
});

test('a WebSocket 101 sets the cookie too, and one cookie pins HTTP and WebSocket alike', async () => {
  const { gw } = await gatewayFor({ sticky: { cookie: 'sid' } });
  const first = await visitWs(gw);
  const cookie = stickyCookieOf(first.setCookie);
  for (let i = 0; i < 4; i++) {
    const again = await visitWs(gw, cookie);
    expect(again).toEqual({ name: first.name, setCookie: undefined });
  }
  const http = await get(gw, cookie);
  expect(http.name).toBe(first.name);
  expect(http.headers['set-cookie']).toBeUndefined();
});

test('a cookie naming no target of the upstream is re-picked and reset, on a 101 as on an answer', async () => {
  const { gw } = await gatewayFor({ sticky: { cookie: 'sid' } });
  const ws = await visitWs(gw, 'sid=not-a-target');
  const wsCookie = stickyCookieOf(ws.setCookie);
  expect((await get(gw, wsCookie)).name).toBe(ws.name);

  const http = await get(gw, 'sid=not-a-target');
  const httpCookie = stickyCookieOf(http.headers['set-cookie']);
  expect((await visitWs(gw, httpCookie)).name).toBe(http.name);
});

test('a client pinned to a target that went away is retried on another and pinned there', async () => {
  const { gw, a, b } = await gatewayFor({ sticky: { cookie: 'sid' }, retries: 1 });
  const first = await get(gw);
  const cookie = stickyCookieOf(first.headers['set-cookie']);
  const pinned = first.name === 'a' ? a : b;
  pinned.server.close();
  pinned.server.closeAllConnections();
  await once(pinned.server, 'close');

  const moved = await get(gw, cookie);
  expect(moved.name).not.toBe(first.name);
  const newCookie = stickyCookieOf(moved.headers['set-cookie']);
  expect(newCookie).not.toBe(cookie);
  const after = await get(gw, newCookie);
  expect(after.name).toBe(moved.name);
  expect(after.headers['set-cookie']).toBeUndefined();
});

test('balance: hash with hashOn: header:X-User sends each user to one target, over HTTP and WebSocket', async () => {
  const { gw } = await gatewayFor({ balance: 'hash', hashOn: 'header:X-User' });
  const targetOf = new Map<string, Set<string>>();
  for (let round = 0; round < 3; round++) {
    for (let u = 0; u < 20; u++) {
      const user = `user-${u}`;
      const res = await send(gw.url('/'), { headers: { 'x-user': user } });
      expect(res.headers['set-cookie']).toBeUndefined(); // no sticky cookie configured
      const seen = targetOf.get(user) ?? new Set<string>();
      seen.add(res.body.toString());
      targetOf.set(user, seen);
    }
  }
  for (const [user, names] of targetOf) expect([...names], user).toHaveLength(1);
  // Twenty users all on one of two targets would mean the key is not what is hashed (odds 2^-19).
  expect(new Set([...targetOf.values()].map((s) => [...s][0])).size).toBe(2);

  const ws = new WebSocket(gw.wsUrl('/ws'), { headers: { 'x-user': 'user-7' } });
  const [data] = (await once(ws, 'message')) as [Buffer];
  expect([...targetOf.get('user-7')!]).toEqual([data.toString()]);
  ws.close();
  await once(ws, 'close');
});

test('with sticky beside balance: hash, the cookie wins over the hash', async () => {
  const { gw } = await gatewayFor({ balance: 'hash', hashOn: 'header:X-User', sticky: { cookie: 'sid' } });
  const byHash = await send(gw.url('/'), { headers: { 'x-user': 'alice' } });
  const hashed = byHash.body.toString();
  stickyCookieOf(byHash.headers['set-cookie']);
  // A user whose cookie names the other target: find that target's cookie from another user.
  let other: string | undefined;
  for (let u = 0; other === undefined && u < 64; u++) {
    const res = await send(gw.url('/'), { headers: { 'x-user': `user-${u}` } });
    if (res.body.toString() !== hashed) other = stickyCookieOf(res.headers['set-cookie']);
  }
  expect(other).toBeDefined();
  const res = await send(gw.url('/'), { headers: { 'x-user': 'alice', cookie: other! } });
  expect(res.body.toString()).not.toBe(hashed);
  expect(res.headers['set-cookie']).toBeUndefined();
});
