// API keys (issue 9 item 3): stored as SHA-256 hashes, read from a header or the query, the query
// key removed before the upstream, the key id as the identity.
import { createHash } from 'node:crypto';
import { test, expect } from 'vitest';
import type { GatewayConfig } from '../../../src/index.js';
import { startGateway } from '../../helpers/gateway.js';
import { send, seenOf, errorCodeOf, startEchoUpstream } from '../../helpers/http.js';

const ACME_KEY = 'acme-live-2b8f0c6e9d';
const INITECH_KEY = 'initech-live-77aa01';
const sha = (key: string): string => createHash('sha256').update(key).digest('hex');

function keyConfig(upstreamUrl: string, scopes: string[] = []): GatewayConfig {
  return {
    upstreams: { app: { targets: [{ url: upstreamUrl }] } },
    auth: {
      partners: {
        type: 'apiKey',
        in: ['header:X-API-Key', 'query:api_key'],
        keys: [
          { id: 'acme', sha256: sha(ACME_KEY), scopes: ['orders'] },
          { id: 'initech', sha256: sha(INITECH_KEY) },
        ],
        forwardClaims: { sub: 'X-Partner' },
      },
    },
    routes: [{ name: 'partners', match: { path: '/partners/*' }, upstream: 'app', auth: { use: 'partners', scopes } }],
  };
}

test('a known key in the header passes as its id, and the upstream gets the id but not the key', async () => {
  const up = await startEchoUpstream();
  const gw = await startGateway(keyConfig(up.url));
  const res = await send(gw.url('/partners/orders'), { headers: { 'x-api-key': ACME_KEY, 'x-partner': 'forged' } });
  expect(res.status).toBe(200);
  const seen = seenOf(res);
  expect(seen.headers['x-api-key']).toBeUndefined();
  expect(seen.headers['x-partner']).toBe('acme');
  expect(await gw.waitForLog((l) => l.event === 'http_request')).toMatchObject({ user: 'acme', status: 200 });
});

test('a key in the query passes and is removed from the URL the upstream sees', async () => {
  const up = await startEchoUpstream();
  const gw = await startGateway(keyConfig(up.url));
  const res = await send(gw.url(`/partners/orders?page=2&api_key=${INITECH_KEY}`));
  expect(res.status).toBe(200);
  expect(seenOf(res).url).toBe('/partners/orders?page=2');
  for (const l of gw.logs) expect(JSON.stringify(l)).not.toContain(INITECH_KEY);
});

test('a missing key is 401 AUTH_MISSING and an unknown one 401 AUTH_INVALID, with an ApiKey challenge', async () => {
  const up = await startEchoUpstream();
  const gw = await startGateway(keyConfig(up.url));
  const none = await send(gw.url('/partners/orders'));
  expect(none.status).toBe(401);
  expect(errorCodeOf(none)).toBe('AUTH_MISSING');
  expect(none.headers['www-authenticate']).toBe('ApiKey realm="wsgate"');
  // One character off the real key.
  const wrong = await send(gw.url('/partners/orders'), { headers: { 'x-api-key': `${ACME_KEY.slice(0, -1)}x` } });
  expect(wrong.status).toBe(401);
  expect(errorCodeOf(wrong)).toBe('AUTH_INVALID');
  // The hash itself is not a key.
  const hashed = await send(gw.url('/partners/orders'), { headers: { 'x-api-key': sha(ACME_KEY) } });
  expect(hashed.status).toBe(401);
  expect(up.requests).toHaveLength(0);
});

test('route scopes apply to keys: a key without the scope is 403', async () => {
  const up = await startEchoUpstream();
  const gw = await startGateway(keyConfig(up.url, ['orders']));
  expect((await send(gw.url('/partners/x'), { headers: { 'x-api-key': ACME_KEY } })).status).toBe(200);
  const res = await send(gw.url('/partners/x'), { headers: { 'x-api-key': INITECH_KEY } });
  expect(res.status).toBe(403);
  expect(errorCodeOf(res)).toBe('AUTH_FORBIDDEN');
});
