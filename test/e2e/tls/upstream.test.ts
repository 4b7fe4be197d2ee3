// e2e: TLS toward https:// and wss:// targets, per upstream (issue 9, item 8): a private CA and a
// servername, mutual TLS, and verification that refuses a certificate it cannot trust.
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import type { GatewayConfig } from '../../../src/index.js';
import { expectEcho, openWs } from '../../helpers/clients.js';
import { startGateway } from '../../helpers/gateway.js';
import { jsonOf, send } from '../../helpers/http.js';
import { startHttpsUpstream, tlsDir, type CertFiles, type HttpsUpstream } from '../../helpers/tls.js';

function config(up: HttpsUpstream, tls: Record<string, unknown> | undefined, extra: Record<string, unknown> = {}): GatewayConfig {
  return {
    upstreams: { api: { targets: [{ url: up.url }], retries: 0, ...(tls === undefined ? {} : { tls }), ...extra } },
    routes: [{ name: 'api', match: { path: '/*' }, upstream: 'api' }],
  };
}

test('reaches an https target signed by a private CA under its servername, for HTTP, WebSocket and health checks', async () => {
  const dir = tlsDir();
  const ca = await dir.ca('private-ca');
  // The certificate names api.internal only: the target's address (127.0.0.1) is not in it.
  const up = await startHttpsUpstream(await dir.leaf('api', ['api.internal'], { ca }));
  const gw = await startGateway(config(up, { ca: ca.cert, servername: 'api.internal' }, { healthCheck: { path: '/healthz', interval: '100ms' } }));
  const res = await send(gw.url('/hello'));
  expect(res.status).toBe(200);
  expect(jsonOf(res)).toMatchObject({ path: '/hello' });
  expect(up.requests.find((r) => r.path === '/hello')?.servername).toBe('api.internal');

  const ws = await openWs(gw.wsUrl('/chat'));
  await expectEcho(ws, 'through wss to a private CA');
  expect((await up.waitFor('/chat')).servername).toBe('api.internal');

  expect((await up.waitFor('/healthz')).servername).toBe('api.internal');
});

test('without the private CA the same target is refused: 502 UPSTREAM_TLS, the log naming the reason', async () => {
  const dir = tlsDir();
  const ca = await dir.ca('private-ca');
  const up = await startHttpsUpstream(await dir.leaf('api', ['api.internal'], { ca }));
  const gw = await startGateway(config(up, { servername: 'api.internal' }));
  const res = await send(gw.url('/hello'));
  expect(res.status).toBe(502);
  expect(jsonOf(res)).toMatchObject({ error: { code: 'UPSTREAM_TLS' } });
  const line = await gw.waitForLog((l) => l.event === 'http_request' && l.status === 502);
  expect(line.code).toBe('UPSTREAM_TLS');
  expect(String(line.cause)).toMatch(/^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)$/);
  expect(up.requests).toHaveLength(0);
});

test('a servername the certificate does not name is refused with UPSTREAM_TLS', async () => {
  const dir = tlsDir();
  const ca = await dir.ca('private-ca');
  const up = await startHttpsUpstream(await dir.leaf('api', ['api.internal'], { ca }));
  const gw = await startGateway(config(up, { ca: ca.cert, servername: 'other.internal' }));
  const res = await send(gw.url('/hello'));
  expect(res.status).toBe(502);
  expect(jsonOf(res)).toMatchObject({ error: { code: 'UPSTREAM_TLS' } });
  expect(await gw.waitForLog((l) => l.event === 'http_request' && l.status === 502)).toMatchObject({ cause: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  expect(up.requests).toHaveLength(0);
});

test('insecureSkipVerify: false (the default) refuses a self-signed upstream; true reaches it', async () => {
  const dir = tlsDir();
  const up = await startHttpsUpstream(await dir.leaf('self', ['localhost', '127.0.0.1']));
  const strict = await startGateway(config(up, { insecureSkipVerify: false }));
  const refused = await send(strict.url('/x'));
  expect(refused.status).toBe(502);
  expect(jsonOf(refused)).toMatchObject({ error: { code: 'UPSTREAM_TLS' } });
  expect(await strict.waitForLog((l) => l.event === 'http_request' && l.status === 502)).toMatchObject({ code: 'UPSTREAM_TLS', cause: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
  await expect(openWs(strict.wsUrl('/ws'))).rejects.toThrow(/502/);
  expect(up.requests).toHaveLength(0);

  const lax = await startGateway(config(up, { insecureSkipVerify: true }));
  expect((await send(lax.url('/x'))).status).toBe(200);
  await expectEcho(await openWs(lax.wsUrl('/ws')), 'unverified');
});

test('mutual TLS: the gateway presents tls.cert to an upstream that requires a client certificate', async () => {
  const dir = tlsDir();
  const serverCa = await dir.ca('server-ca');
  const clientCa = await dir.ca('client-ca');
  const client = await dir.leaf('gateway-client', ['wsgate.gateway'], { ca: clientCa, clientAuth: true });
  const up = await startHttpsUpstream(await dir.leaf('api', ['api.internal'], { ca: serverCa }), { requestCert: true, rejectUnauthorized: true, ca: clientCa.pem });

  const gw = await startGateway(config(up, { ca: serverCa.cert, servername: 'api.internal', cert: client.cert, key: client.key }, { healthCheck: { path: '/healthz', interval: '100ms' } }));
  const res = await send(gw.url('/who'));
  expect(res.status).toBe(200);
  expect(jsonOf(res)).toMatchObject({ clientCert: 'wsgate.gateway' });
  await expectEcho(await openWs(gw.wsUrl('/ws')), 'mutual');
  expect((await up.waitFor('/ws')).clientCert).toBe('wsgate.gateway');
  expect((await up.waitFor('/healthz')).clientCert).toBe('wsgate.gateway');

  // Without the client certificate the upstream refuses the handshake.
  const anonymous = await startGateway(config(up, { ca: serverCa.cert, servername: 'api.internal' }));
  const refused = await send(anonymous.url('/who'));
  expect(refused.status).toBe(502);
  // Over TLS 1.3 the upstream judges the client certificate after the handshake and just closes, so
  // the gateway sees a closed connection (UPSTREAM_UNAVAILABLE), not a TLS error.
  expect((jsonOf(refused) as { error: { code: string } }).error.code).toMatch(/^UPSTREAM_(TLS|UNAVAILABLE)$/);
  expect(up.requests.filter((r) => r.path === '/who')).toHaveLength(1);
});

test('a reload rereads the upstream tls files: a renewed client certificate is presented on new connections', async () => {
  const dir = tlsDir();
  const serverCa = await dir.ca('server-ca');
  const clientCa = await dir.ca('client-ca');
  const one = await dir.leaf('one', ['client-one'], { ca: clientCa, clientAuth: true });
  const two = await dir.leaf('two', ['client-two'], { ca: clientCa, clientAuth: true });
  const live = { cert: join(dir.dir, 'client.pem'), key: join(dir.dir, 'client-key.pem') };
  const install = (c: CertFiles): void => {
    copyFileSync(c.cert, live.cert);
    copyFileSync(c.key, live.key);
  };
  install(one);
  const up = await startHttpsUpstream(await dir.leaf('api', ['api.internal'], { ca: serverCa }), { requestCert: true, rejectUnauthorized: true, ca: clientCa.pem });
  const cfg: GatewayConfig = { ...config(up, { ca: serverCa.cert, servername: 'api.internal', ...live }), listen: [{ port: 0, host: '127.0.0.1' }] };
  const gw = await startGateway(cfg);
  expect(jsonOf(await send(gw.url('/a')))).toMatchObject({ clientCert: 'client-one' });
  install(two);
  expect((await gw.gw.applyConfig(cfg)).ok).toBe(true);
  expect(jsonOf(await send(gw.url('/b')))).toMatchObject({ clientCert: 'client-two' });
});
