import { test, expect } from 'vitest';
import WebSocket from 'ws';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { Gateway, ConfigError, GatewayError, type GatewayContext, type Context, type GatewayConfig, type WsCloseInfo, type WsOpenInfo } from '../../../src/index.js';
import { startGateway, proxyConfig } from '../../helpers/gateway.js';
import { ManualClock } from '../../../src/core/clock.js';
import { startHttpUpstream, startWsEcho } from '../../helpers/servers.js';
import { openWs, nextMessage, closed } from '../../helpers/clients.js';
import { send, seenOf, jsonOf, errorCodeOf, startEchoUpstream, REQUEST_ID } from '../../helpers/http.js';

function usersConfig(upstreamUrl: string): GatewayConfig {
  return {
    upstreams: { app: { targets: [{ url: upstreamUrl }] } },
    routes: [
      { name: 'users', match: { path: '/users/:id' }, upstream: 'app' },
      { name: 'other', match: { path: '/*' }, upstream: 'app' },
    ],
  };
}

test('new Gateway() with a bad config throws a ConfigError naming every problem by its path', () => {
  let thrown: unknown;
  try {
    new Gateway({
      upstreams: { chat: { targets: [{ url: 'http://127.0.0.1:3001' }] } },
      routes: [
        { name: 'a', match: { path: '/a' }, upstream: 'chta' },
        { name: 'b', match: { path: 'no-slash' }, upstream: 'chat' },
      ],
      limits: { maxBodyBytes: 'lots' },
    });
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(ConfigError);
  const err = thrown as ConfigError;
  const paths = err.problems.map((p) => p.path);
  expect(paths).toContain('routes[0].upstream');
  expect(paths).toContain('routes[1].match.path');
  expect(paths).toContain('limits.maxBodyBytes');
  expect(err.message).toContain('routes[0].upstream');
  expect(err.message).toContain('chat'); // the suggestion
});

test('runs global middleware, then the route middleware, in order, with the route, request id and params', async () => {
  const up = await startEchoUpstream();
  const calls: string[] = [];
  const seen: { name: string; requestId: string; params: Readonly<Record<string, string>> }[] = [];
  const gw = await startGateway(usersConfig(up.url), (g) => {
    g.use('users', async (ctx, next) => {
      calls.push('route-1');
      await next();
      calls.push('route-1 after');
    });
    g.use(async (ctx, next) => {
      calls.push('global-1');
      seen.push({ name: ctx.route.name, requestId: ctx.requestId, params: ctx.params });
      await next();
      calls.push('global-1 after');
    });
    g.use('users', async (_ctx, next) => {
      calls.push('route-2');
      await next();
    });
    g.use(async (_ctx, next) => {
      calls.push('global-2');
      await next();
    });
  });
  const res = await send(gw.url('/users/42'));
  expect(res.status).toBe(200);
  expect(calls).toEqual(['global-1', 'global-2', 'route-1', 'route-2', 'route-1 after', 'global-1 after']);
  expect(seen[0]!.name).toBe('users');
  expect(seen[0]!.params).toEqual({ id: '42' });
  expect(seen[0]!.requestId).toMatch(REQUEST_ID);
  expect(seen[0]!.requestId).toBe(seenOf(res).headers['x-request-id']);
  expect(seen[0]!.requestId).toBe(res.headers['x-request-id']);

  calls.length = 0;
  await send(gw.url('/elsewhere'));
  expect(calls).toEqual(['global-1', 'global-2', 'global-1 after']); // route middleware stays on its route
  expect(seen[1]!.name).toBe('other');
});

test('code after await next() sees the status the upstream answered', async () => {
  const up = await startHttpUpstream((_req, res) => {
    res.statusCode = 201;
    res.end('created');
  });
  const statuses: number[] = [];
  const gw = await startGateway(proxyConfig(up.url), (g) =>
    g.use(async (ctx, next) => {
      expect(ctx.status).toBe(0);
      await next();
      statuses.push(ctx.status);
    }),
  );
  const res = await send(gw.url('/things'), { method: 'POST', body: '{}' });
  expect(res.status).toBe(201);
  expect(res.body.toString()).toBe('created');
  expect(statuses).toEqual([201]);
});

test('ctx.respond() answers the client itself and the upstream is never contacted', async () => {
  const up = await startEchoUpstream();
  const gw = await startGateway(proxyConfig(up.url), (g) =>
    g.use((ctx) => {
      if (ctx.req.headers.authorization === undefined) ctx.respond(401, { error: { code: 'UNAUTHENTICATED' } }, { 'WWW-Authenticate': 'Bearer' });
    }),
  );
  const res = await send(gw.url('/private'));
  expect(res.status).toBe(401);
  expect(jsonOf(res)).toEqual({ error: { code: 'UNAUTHENTICATED' } });
  expect(res.headers['content-type']).toBe('application/json');
  expect(res.headers['www-authenticate']).toBe('Bearer');
  expect(res.headers['x-request-id']).toMatch(REQUEST_ID);
  expect(up.requests).toHaveLength(0);
  // A middleware that neither answers nor calls next() is a gateway bug, reported as such.
  const silent = await send(gw.url('/private'), { headers: { authorization: 'Bearer x' } });
  expect(silent.status).toBe(500);
  expect(errorCodeOf(silent)).toBe('INTERNAL');
  expect(up.requests).toHaveLength(0);
});

test('ctx.setUpstreamHeader() reaches the upstream, replacing what the client sent', async () => {
  const up = await startEchoUpstream();
  const gw = await startGateway(proxyConfig(up.url), (g) =>
    g.use(async (ctx, next) => {
      ctx.setUpstreamHeader('X-User-Id', 'user-7');
      ctx.setUpstreamHeader('x-user-id', 'user-8'); // the last one wins
      ctx.identity = { id: 'user-8' };
      ctx.state.seen = true;
      await next();
    }),
  );
  const seen = seenOf(await send(gw.url('/me'), { headers: { 'x-user-id': 'forged' } }));
  expect(seen.headers['x-user-id']).toBe('user-8');
  expect(seen.rawHeaders.filter((h) => h.toLowerCase() === 'x-user-id')).toHaveLength(1);
});

test('ctx.setUpstreamHeader() refuses a value with a line break: 500, and the upstream never sees a split head', async () => {
  const up = await startEchoUpstream();
  const gw = await startGateway(proxyConfig(up.url), (g) =>
    g.use(async (ctx, next) => {
      ctx.setUpstreamHeader('X-User-Id', 'user-7\r\nX-Admin: yes');
      await next();
    }),
  );
  const answer = await send(gw.url('/me'));
  expect(answer.status).toBe(500);
  expect(errorCodeOf(answer)).toBe('INTERNAL');
  expect(up.requests).toHaveLength(0);
});

test('a middleware that throws gets 500 INTERNAL as JSON and an error log line', async () => {
  const up = await startEchoUpstream();
  const gw = await startGateway(proxyConfig(up.url), (g) =>
    g.use('app', async () => {
      await Promise.resolve();
      throw new Error('kaboom');
    }),
  );
  const res = await send(gw.url('/x'));
  expect(res.status).toBe(500);
  const body = jsonOf(res) as { error: { code: string; message: string; requestId: string } };
  expect(body.error.code).toBe('INTERNAL');
  expect(body.error.message).not.toContain('kaboom'); // internals stay in the log
  expect(body.error.requestId).toBe(res.headers['x-request-id']);
  const line = await gw.waitForLog((l) => l.event === 'error');
  expect(line).toMatchObject({ level: 'error', code: 'INTERNAL', route: 'app', requestId: body.error.requestId });
  expect(JSON.stringify(line)).toContain('kaboom');
  expect(up.requests).toHaveLength(0);
});

test('on a WebSocket route next() resolves after the upgrade with status 101, and onOpen/onClose report the tunnel', async () => {
  const up = await startWsEcho();
  let resolveClose!: (info: WsCloseInfo) => void;
  const closeInfo = new Promise<WsCloseInfo>((resolve) => (resolveClose = resolve));
  const opened: WsOpenInfo[] = [];
  const order: string[] = [];
  let statusAfterNext = -1;
  let ctxSeen: Context | null = null;
  const gw = await startGateway(proxyConfig(up.url, { name: 'chat' }), (g) =>
    g.use('chat', async (ctx, next) => {
      ctxSeen = ctx;
      ctx.onOpen((info) => {
        order.push('open');
        opened.push(info);
      });
      ctx.onClose(resolveClose);
      await next();
      order.push('next resolved');
      statusAfterNext = ctx.status;
    }),
  );
  const ws = await openWs(gw.wsUrl('/chat/room?x=1'));
  ws.send('hello');
  expect((await nextMessage(ws)).data.toString()).toBe('hello');
  ws.send(Buffer.from([1, 2, 3]));
  expect([...(await nextMessage(ws)).data]).toEqual([1, 2, 3]);
  const done = closed(ws);
  ws.close(4001, 'bye now');
  expect(await done).toEqual({ code: 4001, reason: 'bye now' });
  const info = await closeInfo;

  expect(ctxSeen!.websocket).toBe(true);
  expect(statusAfterNext).toBe(101);
  expect(order).toEqual(['open', 'next resolved']);
  expect(opened).toHaveLength(1);
  expect(opened[0]).toMatchObject({ route: 'chat', target: up.url, clientAddress: '127.0.0.1' });
  expect(info).toMatchObject({ id: opened[0]!.id, route: 'chat', code: 4001, reason: 'bye now', initiator: 'client', messagesIn: 2, messagesOut: 2 });
  expect(info.durationMs).toBeGreaterThanOrEqual(0);
  expect(info.bytesIn).toBeGreaterThanOrEqual('hello'.length + 3);
  expect(info.bytesOut).toBeGreaterThanOrEqual('hello'.length + 3);
  expect(up.handshakes).toHaveLength(1);
});

test('ctx.respond(403) on a WebSocket route fails the handshake with 403 and the upstream never sees it', async () => {
  const up = await startWsEcho();
  let upstreamConnections = 0;
  up.server.on('connection', () => upstreamConnections++);
  const gw = await startGateway(proxyConfig(up.url, { name: 'chat' }), (g) =>
    g.use('chat', (ctx) => {
      ctx.respond(403, { error: { code: 'FORBIDDEN' } });
    }),
  );
  const ws = new WebSocket(gw.wsUrl('/chat'));
  ws.on('error', () => undefined);
  const [, res] = (await once(ws, 'unexpected-response')) as [unknown, IncomingMessage];
  expect(res.statusCode).toBe(403);
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  expect(JSON.parse(Buffer.concat(chunks).toString())).toEqual({ error: { code: 'FORBIDDEN' } });
  expect(res.headers['x-request-id']).toMatch(REQUEST_ID);
  expect(upstreamConnections).toBe(0);
  expect(up.handshakes).toHaveLength(0);
});

test('middleware removes a query parameter and a client header before the upstream, and sets a header on the answer', async () => {
  const up = await startEchoUpstream();
  const gw = await startGateway(usersConfig(up.url), (g) => {
    g.use((ctx, next) => {
      ctx.removeQueryParam('access_token');
      ctx.removeUpstreamHeader('X-User-Id');
      ctx.setResponseHeader('X-Seen-By', 'edge');
      return next();
    });
  });
  const res = await send(gw.url('/users/7?a=1&access_token=secret&access%5Ftoken=again&b=2'), { headers: { 'x-user-id': 'forged' } });
  expect(res.status).toBe(200);
  expect(res.headers['x-seen-by']).toBe('edge');
  const seen = seenOf(res);
  expect(seen.url).toBe('/users/7?a=1&b=2');
  expect(seen.headers['x-user-id']).toBeUndefined();
});

test('GatewayContext.refuse answers with the stable JSON error, keeps headers set before it, and is logged with its code', async () => {
  const up = await startEchoUpstream();
  const gw = await startGateway(usersConfig(up.url), (g) => {
    g.use((ctx) => {
      ctx.setResponseHeader('Vary', 'Origin');
      (ctx as GatewayContext).refuse(new GatewayError('UNAUTHORIZED', 'no token'), [['www-authenticate', 'Bearer']]);
    });
  });
  const res = await send(gw.url('/users/7'));
  expect(res.status).toBe(401);
  expect(res.headers['www-authenticate']).toBe('Bearer');
  expect(res.headers.vary).toBe('Origin');
  expect(errorCodeOf(res)).toBe('UNAUTHORIZED');
  expect(up.requests).toHaveLength(0);
  const line = await gw.waitForLog((l) => l.event === 'http_request');
  expect(line.code).toBe('UNAUTHORIZED');
});

test('on a handshake, middleware strips a subprotocol entry and a query parameter before the upstream, and adds a header to the 101', async () => {
  const up = await startWsEcho({ handleProtocols: (offered) => [...offered][0] ?? false });
  const gw = await startGateway(proxyConfig(up.url), (g) => {
    g.use((ctx, next) => {
      (ctx as GatewayContext).removeProtocol('bearer.abc');
      ctx.removeQueryParam('token');
      ctx.setResponseHeader('X-Edge', 'yes');
      return next();
    });
  });
  const ws = new WebSocket(gw.wsUrl('/ws?token=abc&room=1'), ['bearer.abc', 'chat']);
  const upgraded = once(ws, 'upgrade') as Promise<[IncomingMessage]>;
  await once(ws, 'open');
  const [res] = await upgraded;
  expect(res.headers['x-edge']).toBe('yes');
  expect(ws.protocol).toBe('chat');
  const hs = up.handshakes[0]!;
  expect(hs.headers['sec-websocket-protocol']).toBe('chat');
  expect(hs.url).toBe('/ws?room=1');
  ws.close();
});

test('a handshake refused by GatewayContext.refuse never reaches the upstream', async () => {
  const up = await startWsEcho();
  const gw = await startGateway(proxyConfig(up.url), (g) => {
    g.use((ctx) => (ctx as GatewayContext).refuse(new GatewayError('UNAUTHORIZED'), [['www-authenticate', 'Bearer error="invalid_token"']]));
  });
  const ws = new WebSocket(gw.wsUrl('/ws'));
  ws.on('error', () => undefined);
  const [, res] = (await once(ws, 'unexpected-response')) as [unknown, IncomingMessage];
  expect(res.statusCode).toBe(401);
  expect(res.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
  expect(up.handshakes).toHaveLength(0);
});

test('a tunnel whose handshake set expiresAt closes with 1008 "token expired" once the clock passes it', async () => {
  const clock = new ManualClock();
  const up = await startWsEcho();
  const gw = await startGateway(
    proxyConfig(up.url),
    (g) => {
      g.use((ctx, next) => {
        (ctx as GatewayContext).expiresAt = clock.nowMs + 5_000;
        return next();
      });
    },
    { clock },
  );
  const ws = await openWs(gw.wsUrl('/ws'));
  clock.advance(4_000);
  ws.send('still here');
  expect((await nextMessage(ws)).data.toString()).toBe('still here');
  const done = closed(ws);
  clock.advance(1_000 + clock.tick);
  expect(await done).toEqual({ code: 1008, reason: 'token expired' });
  const log = await gw.waitForLog((l) => l.event === 'ws_close');
  expect(log).toMatchObject({ code: 1008, initiator: 'gateway', error: 'WS_TOKEN_EXPIRED' });
});
