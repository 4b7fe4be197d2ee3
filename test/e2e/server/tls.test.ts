import { test, expect } from 'vitest';
import { request } from 'node:https';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { startGateway, proxyConfig } from '../../helpers/gateway.js';
import { startHttpUpstream, startWsEcho } from '../../helpers/servers.js';

const cert = fileURLToPath(new URL('../../fixtures/tls-cert.pem', import.meta.url));
const key = fileURLToPath(new URL('../../fixtures/tls-key.pem', import.meta.url));
const ca = readFileSync(cert);

function tlsConfig(upstreamUrl: string): ReturnType<typeof proxyConfig> {
  return { ...proxyConfig(upstreamUrl), listen: [{ port: 0, host: '127.0.0.1', tls: { cert, key } }] };
}

test('a tls listener serves HTTPS and tells the upstream the original protocol was https', async () => {
  const up = await startHttpUpstream((req, res) => res.end(String(req.headers['x-forwarded-proto'])));
  const gw = await startGateway(tlsConfig(up.url));
  const body = await new Promise<string>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: gw.port, path: '/', ca, servername: 'localhost' }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve(text));
    });
    req.on('error', reject);
    req.end();
  });
  expect(body).toBe('https');
});

test('a tls listener relays wss:// tunnels', async () => {
  const up = await startWsEcho();
  const gw = await startGateway(tlsConfig(up.url));
  const ws = new WebSocket(`wss://127.0.0.1:${gw.port}/echo`, { ca });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  ws.send('over tls');
  const data = await new Promise<Buffer>((resolve) => ws.once('message', (d: Buffer) => resolve(d)));
  expect(data.toString()).toBe('over tls');
  ws.close();
});

test('an unreadable certificate file is reported with the key that names it', async () => {
  const { Gateway } = await import('../../../src/index.js');
  expect(() => new Gateway({ listen: [{ port: 0, tls: { cert: '/nonexistent/cert.pem', key } }] })).toThrow(/listen\[0\]\.tls\.cert: cannot read \/nonexistent\/cert\.pem/);
});
