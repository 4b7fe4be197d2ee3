// e2e: https listeners an operator can live with (issue 9, item 8): certificates replaced by a reload
// without dropping a connection, several certificates chosen by SNI, TLS 1.2 at least, ALPN http/1.1.
import { once } from 'node:events';
import { copyFileSync } from 'node:fs';
import { request, Agent } from 'node:https';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { expect, onTestFinished, test } from 'vitest';
import type { GatewayConfig } from '../../../src/index.js';
import { expectEcho, openWs } from '../../helpers/clients.js';
import { proxyConfig, startGateway } from '../../helpers/gateway.js';
import { startHttpUpstream, startWsEcho } from '../../helpers/servers.js';
import { tlsDir, type CertFiles } from '../../helpers/tls.js';

// A TLS handshake with the gateway and nothing more: what certificate and protocol it offered.
async function handshake(port: number, options: ConnectionOptions): Promise<{ fingerprint: string; alpn: string | false | null; protocol: string | null }> {
  const socket = connect({ host: '127.0.0.1', port, ...options });
  onTestFinished(() => {
    socket.destroy();
  });
  await once(socket, 'secureConnect');
  const result = { fingerprint: socket.getPeerCertificate().fingerprint256, alpn: socket.alpnProtocol, protocol: socket.getProtocol() };
  socket.destroy();
  return result;
}

function tlsListener(tls: Record<string, unknown>): Pick<GatewayConfig, 'listen'> {
  return { listen: [{ port: 0, host: '127.0.0.1', tls }] };
}

// The live certificate the config names, replaced in place as a renewal (certbot, cert-manager) does.
function install(from: CertFiles, dir: string): { cert: string; key: string } {
  const live = { cert: join(dir, 'live.pem'), key: join(dir, 'live-key.pem') };
  copyFileSync(from.cert, live.cert);
  copyFileSync(from.key, live.key);
  return live;
}

test('a reload serves a renewed certificate to new handshakes while an open wss tunnel and an HTTPS keep-alive connection stay up', async () => {
  const dir = tlsDir();
  const ca = await dir.ca('ca');
  const before = await dir.leaf('before', ['localhost', '127.0.0.1'], { ca });
  const after = await dir.leaf('after', ['localhost', '127.0.0.1'], { ca });
  const live = install(before, dir.dir);
  const ws = await startWsEcho();
  const http = await startHttpUpstream((_req, res) => res.end('hello'));
  const config: GatewayConfig = {
    ...tlsListener(live),
    upstreams: { ws: { targets: [{ url: ws.url }] }, http: { targets: [{ url: http.url }] } },
    routes: [
      { name: 'ws', match: { path: '/ws/*' }, upstream: 'ws' },
      { name: 'http', match: { path: '/*' }, upstream: 'http' },
    ],
  };
  const gw = await startGateway(config);
  expect((await handshake(gw.port, { ca: ca.pem, servername: 'localhost' })).fingerprint).toBe(before.fingerprint);

  const tunnel = await openWs(`wss://127.0.0.1:${gw.port}/ws/echo`, undefined, { ca: ca.pem });
  await expectEcho(tunnel, 'before the reload');
  // One keep-alive HTTPS connection, used before and after the reload.
  const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: ca.pem });
  onTestFinished(() => agent.destroy());
  const get = (): Promise<{ body: string; socket: TLSSocket }> =>
    new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: gw.port, path: '/x', agent }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ body, socket: req.socket as TLSSocket }));
      });
      req.on('error', reject);
      req.end();
    });
  const first = await get();
  expect(first.body).toBe('hello');

  install(after, dir.dir);
  const result = await gw.gw.applyConfig(config);
  expect(result.ok).toBe(true);

  expect((await handshake(gw.port, { ca: ca.pem, servername: 'localhost' })).fingerprint).toBe(after.fingerprint);
  expect((await handshake(gw.port, { ca: ca.pem })).fingerprint).toBe(after.fingerprint); // no SNI: the default context
  await expectEcho(tunnel, 'after the reload');
  const second = await get();
  expect(second.body).toBe('hello');
  expect(second.socket).toBe(first.socket); // the same connection, still on the old certificate
  expect(second.socket.getPeerCertificate().fingerprint256).toBe(before.fingerprint);
});

test('a reload whose certificate does not match its key is rejected and the running certificate stays', async () => {
  const dir = tlsDir();
  const good = await dir.leaf('good', ['localhost']);
  const other = await dir.leaf('other', ['localhost']);
  const live = install(good, dir.dir);
  const up = await startHttpUpstream((_req, res) => res.end('ok'));
  const config = { ...proxyConfig(up.url), ...tlsListener(live) };
  const gw = await startGateway(config);
  copyFileSync(other.cert, live.cert); // the new certificate, with the old key still in place
  const result = await gw.gw.applyConfig(config);
  expect(result.ok).toBe(false);
  expect(result.message).toMatch(/listen\[0\]\.tls\.key: the key in .*live-key\.pem does not match the certificate in .*live\.pem/);
  expect((await handshake(gw.port, { rejectUnauthorized: false, servername: 'localhost' })).fingerprint).toBe(good.fingerprint);
});

test('certs: picks the certificate whose name matches the SNI, wildcards included, and the first one otherwise', async () => {
  const dir = tlsDir();
  const a = await dir.leaf('a', ['a.example.test']);
  const b = await dir.leaf('b', ['*.b.example.test', 'b.example.test']);
  const up = await startHttpUpstream((_req, res) => res.end('ok'));
  const gw = await startGateway({ ...proxyConfig(up.url), ...tlsListener({ certs: [{ cert: a.cert, key: a.key }, { cert: b.cert, key: b.key }] }) });
  const seen = async (servername?: string): Promise<string> =>
    (await handshake(gw.port, { rejectUnauthorized: false, ...(servername === undefined ? {} : { servername }) })).fingerprint;
  expect(await seen('a.example.test')).toBe(a.fingerprint);
  expect(await seen('A.Example.Test')).toBe(a.fingerprint);
  expect(await seen('b.example.test')).toBe(b.fingerprint);
  expect(await seen('api.b.example.test')).toBe(b.fingerprint);
  expect(await seen('x.api.b.example.test')).toBe(a.fingerprint); // a wildcard covers one label
  expect(await seen('unknown.test')).toBe(a.fingerprint);
  expect(await seen()).toBe(a.fingerprint);
  // And a client that verifies gets through for each name.
  await expect(handshake(gw.port, { ca: b.pem, servername: 'api.b.example.test' })).resolves.toMatchObject({ fingerprint: b.fingerprint });
});

test('a reload can add an SNI certificate to a listener that stays bound', async () => {
  const dir = tlsDir();
  const a = await dir.leaf('a', ['a.example.test']);
  const b = await dir.leaf('b', ['b.example.test']);
  const up = await startHttpUpstream((_req, res) => res.end('ok'));
  const gw = await startGateway({ ...proxyConfig(up.url), ...tlsListener({ cert: a.cert, key: a.key }) });
  const port = gw.port;
  expect((await handshake(port, { rejectUnauthorized: false, servername: 'b.example.test' })).fingerprint).toBe(a.fingerprint);
  const result = await gw.gw.applyConfig({ ...proxyConfig(up.url), ...tlsListener({ certs: [{ cert: a.cert, key: a.key }, { cert: b.cert, key: b.key }] }) });
  expect(result.ok).toBe(true);
  expect(gw.gw.addresses()[0]!.port).toBe(port);
  expect((await handshake(port, { rejectUnauthorized: false, servername: 'b.example.test' })).fingerprint).toBe(b.fingerprint);
});

test('refuses a TLS 1.1 client and speaks TLS 1.2 and 1.3, even where Node itself would allow TLS 1.0', async () => {
  // As `node --tls-min-v1.0 --tls-cipher-list=DEFAULT@SECLEVEL=0` would: with Node and OpenSSL
  // willing to speak TLS 1.1, the listener's own minimum must be what refuses it.
  const tls = createRequire(import.meta.url)('node:tls') as typeof import('node:tls'); // the mutable module object
  const defaults = { min: tls.DEFAULT_MIN_VERSION, ciphers: tls.DEFAULT_CIPHERS };
  tls.DEFAULT_MIN_VERSION = 'TLSv1';
  tls.DEFAULT_CIPHERS = 'DEFAULT@SECLEVEL=0';
  onTestFinished(() => {
    tls.DEFAULT_MIN_VERSION = defaults.min;
    tls.DEFAULT_CIPHERS = defaults.ciphers;
  });
  const dir = tlsDir();
  const cert = await dir.leaf('gw', ['localhost']);
  const up = await startHttpUpstream((_req, res) => res.end('ok'));
  const gw = await startGateway({ ...proxyConfig(up.url), ...tlsListener({ cert: cert.cert, key: cert.key }) });
  // SECLEVEL=0 lets this client offer TLS 1.1 at all: the refusal is the gateway's.
  const old = connect({ host: '127.0.0.1', port: gw.port, rejectUnauthorized: false, minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' });
  onTestFinished(() => {
    old.destroy();
  });
  const outcome = await new Promise<string>((resolve) => {
    old.once('secureConnect', () => resolve(`connected with ${String(old.getProtocol())}`));
    old.once('error', (err: NodeJS.ErrnoException) => resolve(String(err.code)));
  });
  expect(outcome).toMatch(/^ERR_SSL_/);
  expect((await handshake(gw.port, { rejectUnauthorized: false, maxVersion: 'TLSv1.2' })).protocol).toBe('TLSv1.2');
  expect((await handshake(gw.port, { rejectUnauthorized: false })).protocol).toBe('TLSv1.3');
});

test('ALPN: offered h2 and http/1.1, the gateway picks http/1.1', async () => {
  const dir = tlsDir();
  const cert = await dir.leaf('gw', ['localhost']);
  const up = await startHttpUpstream((_req, res) => res.end('ok'));
  const gw = await startGateway({ ...proxyConfig(up.url), ...tlsListener({ cert: cert.cert, key: cert.key }) });
  expect((await handshake(gw.port, { rejectUnauthorized: false, ALPNProtocols: ['h2', 'http/1.1'] })).alpn).toBe('http/1.1');
  // With SNI, through a certificate chosen by name, the same.
  expect((await handshake(gw.port, { rejectUnauthorized: false, servername: 'localhost', ALPNProtocols: ['h2', 'http/1.1'] })).alpn).toBe('http/1.1');
});
