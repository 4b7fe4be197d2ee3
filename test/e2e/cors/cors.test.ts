// CORS per route (issue 9, item 5): preflights answered by the gateway, the headers of actual answers,
// and websocket.origins defaulting to cors.origins, through real sockets.
import { test, expect } from 'vitest';
import { startGateway, proxyConfig } from '../../helpers/gateway.js';
import { errorCodeOf, send, seenOf, startEchoUpstream } from '../../helpers/http.js';
import { startWsEcho } from '../../helpers/servers.js';
import { expectEcho, openWs, rawHttp } from '../../helpers/clients.js';
import { handshakeRequest } from '../../helpers/ws.js';

const APP = 'https://app.example.com';

function preflight(origin: string, method = 'PUT', requestHeaders?: string): Record<string, string> {
  const h: Record<string, string> = { origin, 'access-control-request-method': method };
  if (requestHeaders !== undefined) h['access-control-request-headers'] = requestHeaders;
  return h;
}

test('a preflight is answered 204 by the gateway and never forwarded, even when the route methods omit OPTIONS', async () => {
  const up = await startEchoUpstream();
  const gw = await startGateway(
    proxyConfig(up.url, {
      match: { path: '/*', methods: ['GET', 'PUT'] },
      cors: { origins: [APP], credentials: true, headers: ['Content-Type', 'X-Trace'], exposeHeaders: ['X-Total'], maxAge: '1h' },
    }),
  );
  const res = await send(gw.url('/items/1'), { method: 'OPTIONS', headers: preflight(APP, 'PUT', 'content-type') });
  expect(res.status).toBe(204);
  expect(res.headers['content-length']).toBeUndefined();
  expect(res.headers).toMatchObject({
    'access-control-allow-origin': APP,
    'access-control-allow-credentials': 'true',
    'access-control-allow-methods': 'GET, PUT',
    'access-control-allow-headers': 'Content-Type, X-Trace',
    'access-control-max-age': '3600',
    vary: 'Origin',
  });
  expect(up.requests).toHaveLength(0);
  // A plain OPTIONS (no Access-Control-Request-Method) is not a preflight: the route's methods apply.
  const plain = await send(gw.url('/items/1'), { method: 'OPTIONS', headers: { origin: APP } });
  expect(plain.status).toBe(405);
  expect(errorCodeOf(plain)).toBe('METHOD_NOT_ALLOWED');
  expect(up.requests).toHaveLength(0);
});

test('a preflight from a foreign origin gets 204 without Access-Control-Allow-Origin and is not forwarded', async () => {
  const up = await startEchoUpstream();
  const gw = await startGateway(proxyConfig(up.url, { cors: { origins: [APP] } }));
  const res = await send(gw.url('/items'), { method: 'OPTIONS', headers: preflight('https://evil.example', 'DELETE', 'x-a') });
  expect(res.status).toBe(204);
  expect(res.headers['access-control-allow-origin']).toBeUndefined();
  expect(res.headers['access-control-allow-methods']).toBeUndefined();
  // Without cors.headers the preflight reflects the requested headers, so it varies on them too.
  expect(res.headers.vary).toBe('Origin, Access-Control-Request-Headers');
  expect(up.requests).toHaveLength(0);
  const ok = await send(gw.url('/items'), { method: 'OPTIONS', headers: preflight(APP, 'DELETE', 'x-a, x-b') });
  expect(ok.headers['access-control-allow-headers']).toBe('x-a, x-b');
  expect(ok.headers['access-control-allow-methods']).toBe('GET, HEAD, PUT, PATCH, POST, DELETE');
  expect(ok.headers['access-control-allow-credentials']).toBeUndefined();
  expect(ok.headers['access-control-max-age']).toBe('600');
});

test('an allowed origin gets its CORS headers on the relayed response, replacing the upstream own and merging Vary', async () => {
  const up = await startEchoUpstream('echo', (_req, res) => {
    res.setHeader('access-control-allow-origin', '*');
    res.setHeader('vary', 'Accept-Encoding');
  });
  const gw = await startGateway(proxyConfig(up.url, { cors: { origins: [APP], credentials: true, exposeHeaders: ['X-Total', 'X-Page'] } }));
  const res = await send(gw.url('/items'), { headers: { origin: APP } });
  expect(res.status).toBe(200);
  expect(seenOf(res).headers.origin).toBe(APP);
  expect(res.headers['access-control-allow-origin']).toBe(APP);
  expect(res.headers['access-control-allow-credentials']).toBe('true');
  expect(res.headers['access-control-expose-headers']).toBe('X-Total, X-Page');
  expect(res.headers.vary).toBe('Origin, Accept-Encoding');
  expect(res.rawHeaders.filter((h) => h.toLowerCase() === 'access-control-allow-origin')).toHaveLength(1);
});

test('a foreign origin is still forwarded, without CORS headers but with Vary: Origin, so the browser blocks the answer', async () => {
  const up = await startEchoUpstream();
  const gw = await startGateway(proxyConfig(up.url, { cors: { origins: [APP], credentials: true } }));
  const res = await send(gw.url('/items'), { headers: { origin: 'https://evil.example' } });
  expect(res.status).toBe(200);
  expect(up.requests).toHaveLength(1);
  expect(res.headers['access-control-allow-origin']).toBeUndefined();
  expect(res.headers['access-control-allow-credentials']).toBeUndefined();
  expect(res.headers.vary).toBe('Origin');
  // No Origin at all (not a browser, or same-origin): no CORS headers either.
  const none = await send(gw.url('/items'));
  expect(none.headers['access-control-allow-origin']).toBeUndefined();
  expect(none.headers.vary).toBe('Origin');
});

test('origins ["*"] answers with a literal *, and a subdomain pattern allows subdomains only', async () => {
  const up = await startEchoUpstream();
  const gw = await startGateway({
    upstreams: { app: { targets: [{ url: up.url }] } },
    routes: [
      { name: 'public', match: { path: '/public/*' }, upstream: 'app', cors: { origins: ['*'] } },
      { name: 'sub', match: { path: '/sub/*' }, upstream: 'app', cors: { origins: ['https://*.Example.com'] } },
    ],
  });
  const pub = await send(gw.url('/public/a'), { headers: { origin: 'https://anyone.test' } });
  expect(pub.headers['access-control-allow-origin']).toBe('*');
  const allowedOf = async (origin: string): Promise<string | undefined> => {
    const res = await send(gw.url('/sub/a'), { headers: { origin } });
    return res.headers['access-control-allow-origin'];
  };
  expect(await allowedOf('https://a.example.com')).toBe('https://a.example.com');
  expect(await allowedOf('https://a.b.example.com')).toBe('https://a.b.example.com');
  expect(await allowedOf('https://example.com')).toBeUndefined();
  expect(await allowedOf('https://evilexample.com')).toBeUndefined();
  expect(await allowedOf('http://a.example.com')).toBeUndefined();
  expect(await allowedOf('https://a.example.com:8443')).toBeUndefined();
});

test('a preflight is answered by the route that serves the method it announces', async () => {
  const up = await startEchoUpstream();
  const gw = await startGateway({
    upstreams: { app: { targets: [{ url: up.url }] } },
    routes: [
      { name: 'read', match: { path: '/items', methods: ['GET'] }, upstream: 'app', cors: { origins: ['https://read.example'] } },
      { name: 'write', match: { path: '/items', methods: ['POST'] }, upstream: 'app', cors: { origins: [APP], credentials: true } },
    ],
  });
  const write = await send(gw.url('/items'), { method: 'OPTIONS', headers: preflight(APP, 'POST') });
  expect(write.headers['access-control-allow-origin']).toBe(APP);
  expect(write.headers['access-control-allow-methods']).toBe('POST');
  const read = await send(gw.url('/items'), { method: 'OPTIONS', headers: preflight(APP, 'GET') });
  expect(read.status).toBe(204);
  expect(read.headers['access-control-allow-origin']).toBeUndefined();
  expect(up.requests).toHaveLength(0);
});

test('WebSocket handshakes: websocket.origins defaults to cors.origins, patterns included; no Origin passes', async () => {
  const up = await startWsEcho();
  const gw = await startGateway(proxyConfig(up.url, { cors: { origins: [APP, 'https://*.example.org'] } }));
  const foreign = await rawHttp(gw.port, handshakeRequest(gw.port, '/ws', { Origin: 'https://evil.example' }));
  expect(foreign.status).toBe(403);
  expect(errorCodeOf(foreign)).toBe('WS_ORIGIN_FORBIDDEN');
  expect(up.handshakes).toHaveLength(0);
  // Browser-like handshakes from allowed origins open; a client without Origin (not a browser) too.
  await expectEcho(await openWs(gw.wsUrl('/ws/app'), undefined, { origin: APP }), 'hi');
  await expectEcho(await openWs(gw.wsUrl('/ws/sub'), undefined, { origin: 'https://chat.example.org' }), 'hi');
  await expectEcho(await openWs(gw.wsUrl('/ws/cli')), 'hi');
  expect(up.handshakes.map((r) => r.url)).toEqual(['/ws/app', '/ws/sub', '/ws/cli']);
});

test('an explicit websocket.origins wins over cors.origins, and "*" there allows any Origin', async () => {
  const up = await startWsEcho();
  const gw = await startGateway({
    upstreams: { app: { targets: [{ url: up.url }] } },
    routes: [
      { name: 'own', match: { path: '/own/*' }, upstream: 'app', cors: { origins: [APP] }, websocket: { origins: ['https://ws.example'] } },
      { name: 'any', match: { path: '/any/*' }, upstream: 'app', cors: { origins: [APP] }, websocket: { origins: ['*'] } },
    ],
  });
  const fromApp = await rawHttp(gw.port, handshakeRequest(gw.port, '/own/1', { Origin: APP }));
  expect(fromApp.status).toBe(403);
  await expectEcho(await openWs(gw.wsUrl('/own/2'), undefined, { origin: 'https://ws.example' }), 'hi');
  await expectEcho(await openWs(gw.wsUrl('/any/3'), undefined, { origin: 'https://elsewhere.test' }), 'hi');
});
