// e2e: an https:// target: HTTP through undici (plain http:// targets use wsgate's own HTTP/1.1
// client) and WebSockets through node:https (plain targets use the raw handshake). The gateway runs
// as a process so the test CA can be given the way an operator would: NODE_EXTRA_CA_CERTS.
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { expect, onTestFinished, test } from 'vitest';
import { WebSocketServer } from 'ws';
import { startCli, writeConfig, yamlConfig } from '../../helpers/cli.js';
import { nextMessage, openWs } from '../../helpers/clients.js';
import { REQUEST_ID } from '../../helpers/http.js';

const CERT = fileURLToPath(new URL('../../fixtures/tls-cert.pem', import.meta.url));
const KEY = fileURLToPath(new URL('../../fixtures/tls-key.pem', import.meta.url));
const BIG = randomBytes(24 * 1024 * 1024);

async function startHttpsUpstream(): Promise<number> {
  const server: Server = createServer({ cert: readFileSync(CERT), key: readFileSync(KEY) }, (req, res) => {
    if (req.url === '/big') {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(BIG.length) });
      res.end(BIG);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': 'tls' });
    res.end(JSON.stringify({ path: req.url, proto: req.headers['x-forwarded-proto'] }));
  });
  // WebSocket echo on the same server, with the subprotocol the client asked for.
  const wss = new WebSocketServer({ server, handleProtocols: (protocols) => [...protocols][0] ?? false });
  wss.on('connection', (ws, req) => {
    ws.on('error', () => ws.terminate());
    ws.on('message', (data, isBinary) => ws.send(isBinary ? data : `${(data as Buffer).toString()} via ${String(req.headers['x-forwarded-proto'])}`, { binary: isBinary }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  onTestFinished(() => {
    for (const ws of wss.clients) ws.terminate();
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return (server.address() as AddressInfo).port;
}

async function startGatewayTo(upstreamPort: number): Promise<string> {
  const routes = '  - name: secure\n    match: { path: /* }\n    upstream: secure\n';
  const file = writeConfig('wsgate.yaml', yamlConfig({ upstreams: { secure: `https://localhost:${upstreamPort}` }, routes }));
  const cli = startCli(['start', '-c', file], { env: { NODE_EXTRA_CA_CERTS: CERT } });
  onTestFinished(() => {
    cli.signal('SIGKILL');
  });
  const { listeners } = await cli.ports();
  return `http://127.0.0.1:${listeners[0]!}`;
}

test('relays a request to an https:// target and its answer back', async () => {
  const base = await startGatewayTo(await startHttpsUpstream());
  const res = await fetch(`${base}/hello?x=1`);
  expect(res.status).toBe(200);
  expect(res.headers.get('x-upstream')).toBe('tls');
  expect(res.headers.get('x-request-id')).toMatch(REQUEST_ID);
  expect(await res.json()).toEqual({ path: '/hello?x=1', proto: 'http' });
});

test('streams a 24 MB download from an https:// target byte for byte, through the client\'s backpressure', async () => {
  const base = await startGatewayTo(await startHttpsUpstream());
  const res = await fetch(`${base}/big`);
  expect(res.status).toBe(200);
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of res.body!) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  expect(bytes).toBe(BIG.length);
  expect(hash.digest('hex')).toBe(createHash('sha256').update(BIG).digest('hex'));
});

test('relays a WebSocket to a wss:// target: handshake with the subprotocol, then messages both ways', async () => {
  const base = await startGatewayTo(await startHttpsUpstream());
  const ws = await openWs(`${base.replace('http', 'ws')}/ws`, ['chat.v1']);
  expect(ws.protocol).toBe('chat.v1');
  ws.send('hello');
  const reply = await nextMessage(ws);
  expect(String(reply.data)).toBe('hello via http');
  ws.send(Buffer.from([1, 2, 3]));
  expect([...(await nextMessage(ws)).data]).toEqual([1, 2, 3]);
});
