import { test, expect } from 'vitest';
import type { GatewayConfig } from '../../../src/index.js';
import { startGateway, proxyConfig } from '../../helpers/gateway.js';
import { rawHttp } from '../../helpers/clients.js';
import { send, seenOf, errorCodeOf, jsonOf, startEchoUpstream, REQUEST_ID } from '../../helpers/http.js';

test('picks the exact route over a :param route over a prefix route, whatever their order', async () => {
  const exact = await startEchoUpstream('exact');
  const param = await startEchoUpstream('param');
  const prefix = await startEchoUpstream('prefix');
  const gw = await startGateway({
    upstreams: { exact: { targets: [{ url: exact.url }] }, param: { targets: [{ url: param.url }] }, prefix: { targets: [{ url: prefix.url }] } },
    routes: [
      { name: 'prefix', match: { path: '/users/*' }, upstream: 'prefix' },
      { name: 'param', match: { path: '/users/:id' }, upstream: 'param' },
      { name: 'exact', match: { path: '/users/me' }, upstream: 'exact' },
    ],
  });
  expect(seenOf(await send(gw.url('/users/me'))).upstream).toBe('exact');
  expect(seenOf(await send(gw.url('/users/42'))).upstream).toBe('param');
  expect(seenOf(await send(gw.url('/users/42/posts'))).upstream).toBe('prefix');
  expect(seenOf(await send(gw.url('/users'))).upstream).toBe('prefix');
  expect(exact.requests).toHaveLength(1);
  expect(param.requests).toHaveLength(1);
  expect(prefix.requests).toHaveLength(2);
});

test('routes by Host: exact host, then *.example.com, then routes without a host', async () => {
  const api = await startEchoUpstream('api');
  const wild = await startEchoUpstream('wild');
  const any = await startEchoUpstream('any');
  const gw = await startGateway({
    upstreams: { api: { targets: [{ url: api.url }] }, wild: { targets: [{ url: wild.url }] }, any: { targets: [{ url: any.url }] } },
    routes: [
      { name: 'any', match: { path: '/*' }, upstream: 'any' },
      { name: 'wild', match: { host: '*.example.com', path: '/*' }, upstream: 'wild' },
      { name: 'api', match: { host: 'api.example.com', path: '/*' }, upstream: 'api' },
    ],
  });
  const via = async (host: string): Promise<string> => seenOf(await send(gw.url('/x'), { headers: { host } })).upstream;
  expect(await via('api.example.com')).toBe('api');
  expect(await via('API.Example.com:8080')).toBe('api');
  expect(await via('chat.example.com')).toBe('wild');
  expect(await via('a.b.example.com')).toBe('wild');
  expect(await via('example.com')).toBe('any');
  expect(await via('other.org')).toBe('any');
});

test('answers 405 METHOD_NOT_ALLOWED with an Allow header when the path matches but the method does not', async () => {
  const up = await startEchoUpstream();
  const gw = await startGateway(proxyConfig(up.url, { match: { path: '/items/*', methods: ['GET', 'POST'] } }));
  const res = await send(gw.url('/items/1'), { method: 'DELETE' });
  expect(res.status).toBe(405);
  expect(errorCodeOf(res)).toBe('METHOD_NOT_ALLOWED');
  // HEAD comes with GET (RFC 9110 §9.3.2).
  expect(res.headers.allow?.split(/,\s*/).sort()).toEqual(['GET', 'HEAD', 'POST']);
  expect(up.requests).toHaveLength(0);
  expect((await send(gw.url('/items/1'), { method: 'POST', body: 'x' })).status).toBe(200);
});

test('answers 404 ROUTE_NOT_FOUND as JSON carrying the request id it also sends as X-Request-Id', async () => {
  const up = await startEchoUpstream();
  const gw = await startGateway(proxyConfig(up.url, { match: { path: '/api/*' } }));
  const res = await send(gw.url('/nope'));
  expect(res.status).toBe(404);
  expect(res.headers['content-type']).toBe('application/json');
  const body = jsonOf(res) as { error: { code: string; message: string; requestId: string } };
  expect(body.error.code).toBe('ROUTE_NOT_FOUND');
  expect(body.error.message).toContain('/nope');
  expect(body.error.requestId).toMatch(REQUEST_ID);
  expect(res.headers['x-request-id']).toBe(body.error.requestId);
  expect(up.requests).toHaveLength(0);
});

test.each([
  ['/../x'],
  ['/%2e%2e/x'],
  ['/a/../../x'],
  ['/a/%2E%2E/%2e%2e/x'],
])('rejects %s, a path climbing above the root, with 400 before any upstream sees it', async (path) => {
  const up = await startEchoUpstream();
  const gw = await startGateway(proxyConfig(up.url));
  const answer = await rawHttp(gw.port, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, { untilClose: true });
  expect(answer.status).toBe(400);
  expect(jsonOf(answer)).toMatchObject({ error: { code: 'PATH_OUTSIDE_ROOT' } });
  expect(up.requests).toHaveLength(0);
});

test('forwards the normalized path and the query string untouched', async () => {
  const up = await startEchoUpstream();
  const gw = await startGateway(proxyConfig(up.url));
  expect(seenOf(await send(gw.url('/a/./b//c'))).url).toBe('/a/b/c');
  expect(seenOf(await send(gw.url('/a/%7Eb/../c'))).url).toBe('/a/c');
  expect(seenOf(await send(gw.url('/%61pi/x%2Fy?q=%2F..%2F&b=1&b=2'))).url).toBe('/api/x%2Fy?q=%2F..%2F&b=1&b=2');
});

test('matches routes on the normalized path, so /%61pi/../api/x takes the /api route', async () => {
  const api = await startEchoUpstream('api');
  const other = await startEchoUpstream('other');
  const gw = await startGateway({
    upstreams: { api: { targets: [{ url: api.url }] }, other: { targets: [{ url: other.url }] } },
    routes: [
      { name: 'api', match: { path: '/api/*' }, upstream: 'api' },
      { name: 'other', match: { path: '/*' }, upstream: 'other' },
    ],
  });
  const seen = seenOf(await send(gw.url('/%61pi/../api/./x')));
  expect(seen.upstream).toBe('api');
  expect(seen.url).toBe('/api/x');
});

test('strips the route prefix, and rewrite replaces it', async () => {
  const up = await startEchoUpstream();
  const gw = await startGateway({
    upstreams: { app: { targets: [{ url: up.url }] } },
    routes: [
      { name: 'api', match: { path: '/api/*' }, upstream: 'app', stripPrefix: '/api' },
      { name: 'old', match: { path: '/old/*' }, upstream: 'app', stripPrefix: '/old', rewrite: '/v2' },
    ],
  });
  expect(seenOf(await send(gw.url('/api/users/7?full=1'))).url).toBe('/users/7?full=1');
  expect(seenOf(await send(gw.url('/api'))).url).toBe('/');
  expect(seenOf(await send(gw.url('/api/'))).url).toBe('/');
  expect(seenOf(await send(gw.url('/old/thing?x=1'))).url).toBe('/v2/thing?x=1');
  expect(seenOf(await send(gw.url('/old'))).url).toBe('/v2');
});

const respondConfig: GatewayConfig = {
  routes: [
    { name: 'ping', match: { path: '/ping' }, respond: { status: 200, json: { message: 'pong' } } },
    { name: 'teapot', match: { path: '/teapot' }, respond: { status: 418, body: 'short and stout', headers: { 'X-Kind': 'teapot', 'Cache-Control': 'no-store' } } },
  ],
};

test('answers respond routes itself: JSON, a text body and the configured headers', async () => {
  const gw = await startGateway(respondConfig);
  const ping = await send(gw.url('/ping'));
  expect(ping.status).toBe(200);
  expect(ping.headers['content-type']).toBe('application/json');
  expect(jsonOf(ping)).toEqual({ message: 'pong' });
  expect(ping.headers['x-request-id']).toMatch(REQUEST_ID);
  const teapot = await send(gw.url('/teapot'));
  expect(teapot.status).toBe(418);
  expect(teapot.body.toString()).toBe('short and stout');
  expect(teapot.headers['x-kind']).toBe('teapot');
  expect(teapot.headers['cache-control']).toBe('no-store');
  expect(teapot.headers['content-type']).toBe('text/plain; charset=utf-8');
});

test('answers HEAD on a respond route with the head and no body bytes', async () => {
  const gw = await startGateway(respondConfig);
  const answer = await rawHttp(gw.port, 'HEAD /teapot HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', { untilClose: true });
  expect(answer.status).toBe(418);
  expect(answer.raw.toLowerCase()).toContain('x-kind: teapot');
  expect(answer.raw.endsWith('\r\n\r\n')).toBe(true);
  expect(answer.raw).not.toContain('short and stout');
});
