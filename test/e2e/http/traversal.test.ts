// e2e: paths a decoding upstream would misread (issue 9, item 7) are refused with 400 PATH_AMBIGUOUS
// on HTTP and on a WebSocket handshake, and not one byte of them reaches the upstream.
import { expect, test } from 'vitest';
import type { Socket } from 'node:net';
import { rawHttp } from '../../helpers/clients.js';
import { proxyConfig, startGateway } from '../../helpers/gateway.js';
import { jsonOf } from '../../helpers/http.js';
import { startRawUpstream } from '../../helpers/servers.js';
import { handshakeRequest } from '../../helpers/ws.js';

// Every variant the rule names: encoded separators beside dot segments, encoded dots with raw or
// encoded separators, %25 double encoding, raw backslashes, NUL, overlong UTF-8, bad escapes.
const REFUSED = [
  '/api/..%2fadmin/x',
  '/api/%2E%2E%2Fadmin/x',
  '/api/..%5Cadmin/x',
  '/api/%2e%2e%5cadmin/x',
  '/api/..\\admin/x',
  '/api/x%2f..%2f..%2fadmin',
  '/api/%252e%252e/admin/x',
  '/api/..%252fadmin/x',
  '/api/%252e%252e%255cadmin',
  '/api/a%00.json',
  '/api/a%2500.json',
  '/api/%c0%ae%c0%ae/admin/x',
  '/api/%e0%80%ae%e0%80%ae/admin/x',
  '/api/..%c0%afadmin/x',
  '/api/..;/admin/x',
  '/api/%zz/x',
  '/api/x%',
];

// A plain TCP upstream that records every byte it receives and answers each request head with 200.
async function recordingUpstream(): Promise<{ url: string; received: () => string; connections: () => number }> {
  const chunks: Buffer[] = [];
  let connections = 0;
  const up = await startRawUpstream((socket: Socket) => {
    connections++;
    let pending = '';
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      pending += chunk.toString('latin1');
      for (let at = pending.indexOf('\r\n\r\n'); at !== -1; at = pending.indexOf('\r\n\r\n')) {
        pending = pending.slice(at + 4);
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
      }
    });
  });
  return { url: up.url, received: () => Buffer.concat(chunks).toString('latin1'), connections: () => connections };
}

function apiConfig(url: string): ReturnType<typeof proxyConfig> {
  return proxyConfig(url, { match: { path: '/api/*' }, stripPrefix: '/api' });
}

test('refuses every ambiguous path with 400 PATH_AMBIGUOUS, and the upstream receives only the honest request', async () => {
  const up = await recordingUpstream();
  const gw = await startGateway(apiConfig(up.url));
  for (const path of REFUSED) {
    const answer = await rawHttp(gw.port, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, { untilClose: true });
    expect(answer.status, path).toBe(400);
    expect(jsonOf(answer), path).toMatchObject({ error: { code: 'PATH_AMBIGUOUS' } });
  }
  expect(up.connections()).toBe(0);
  // The same gateway and upstream carry an honest request, byte for byte: the recorder works.
  const ok = await rawHttp(gw.port, 'GET /api/files/a%2Fb HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', { untilClose: true });
  expect(ok.status).toBe(200);
  const received = up.received();
  expect(received.startsWith('GET /files/a%2Fb HTTP/1.1\r\n')).toBe(true);
  expect(received.match(/^GET /gm)).toHaveLength(1);
  expect(received).not.toMatch(/\.\.|%2e|%25|%00|%c0|%e0|\\/i);
});

test('refuses an ambiguous path on a WebSocket handshake with 400 PATH_AMBIGUOUS before any upstream is contacted', async () => {
  const up = await recordingUpstream();
  const gw = await startGateway(apiConfig(up.url));
  for (const path of REFUSED) {
    const answer = await rawHttp(gw.port, handshakeRequest(gw.port, path), { untilClose: true });
    expect(answer.status, path).toBe(400);
    expect(jsonOf(answer), path).toMatchObject({ error: { code: 'PATH_AMBIGUOUS' } });
  }
  expect(up.connections()).toBe(0);
  expect(up.received()).toBe('');
});

test('still answers a plain climb above the root with PATH_OUTSIDE_ROOT', async () => {
  const up = await recordingUpstream();
  const gw = await startGateway(apiConfig(up.url));
  const answer = await rawHttp(gw.port, 'GET /api/../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', { untilClose: true });
  expect(answer.status).toBe(400);
  expect(jsonOf(answer)).toMatchObject({ error: { code: 'PATH_OUTSIDE_ROOT' } });
  expect(up.connections()).toBe(0);
});
