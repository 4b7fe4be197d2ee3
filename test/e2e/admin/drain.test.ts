// Graceful stop as the admin listener and the clients see it (SPEC section 10): /readyz turns 503
// while the gateway drains, and every WebSocket gets 1001.
import { once } from 'node:events';
import { expect, test } from 'vitest';
import type { WebSocket } from 'ws';
import { startGateway, proxyConfig } from '../../helpers/gateway.js';
import { startHoldingUpstream, startWsEcho } from '../../helpers/servers.js';
import { closed, openWs } from '../../helpers/clients.js';
import { fetchText } from '../../helpers/http.js';

test('/readyz answers 503 once close() has begun, while /healthz stays 200 until the admin listener closes', async () => {
  const api = await startHoldingUpstream();
  const gw = await startGateway(proxyConfig(api.url));
  expect((await fetch(gw.adminUrl('/readyz'))).status).toBe(200);

  // A request in flight keeps the drain (and so the admin listener) going until it finishes.
  const slow = fetchText(gw.url('/slow'));
  const held = await api.held;
  const closing = gw.close();
  expect(await gw.waitForLog((l) => l.event === 'draining')).toMatchObject({ inFlight: 1 });

  const ready = await fetch(gw.adminUrl('/readyz'));
  expect(ready.status).toBe(503);
  expect(await ready.json()).toEqual({ status: 'draining' });
  expect((await fetch(gw.adminUrl('/healthz'))).status).toBe(200);
  expect(gw.gw.ready).toBe(false);

  held.end('finished during the drain');
  expect(await slow).toEqual({ status: 200, body: 'finished during the drain' });
  await closing;
  expect(gw.logs.at(-1)).toMatchObject({ event: 'stopped' });
  // The admin listener is gone with the gateway.
  await expect(fetch(gw.adminUrl('/healthz'))).rejects.toThrow();
});

test('close() with 50 open WebSockets closes every one with 1001 on both sides, logs each, and resolves', async () => {
  const up = await startWsEcho();
  const gw = await startGateway(proxyConfig(up.url, {}, { limits: { drainTimeout: '2s' } }));
  const clients: WebSocket[] = [];
  for (let i = 0; i < 50; i++) clients.push(await openWs(gw.wsUrl(`/ws/${i}`)));
  expect(up.connections).toHaveLength(50);
  const clientCloses = clients.map((ws) => closed(ws));
  const upstreamCloses = up.connections.map((ws) => once(ws, 'close') as Promise<[number, Buffer]>);

  await gw.close();

  const seen = await Promise.all(clientCloses);
  expect(seen).toEqual(Array.from({ length: 50 }, () => ({ code: 1001, reason: 'gateway shutting down' })));
  expect((await Promise.all(upstreamCloses)).map(([code]) => code)).toEqual(Array.from({ length: 50 }, () => 1001));
  const closes = gw.logs.filter((l) => l.event === 'ws_close');
  expect(closes).toHaveLength(50);
  for (const l of closes) expect(l).toMatchObject({ code: 1001, initiator: 'gateway', error: 'SHUTTING_DOWN' });
  expect(gw.logs.find((l) => l.event === 'draining')).toMatchObject({ websockets: 50, drainTimeoutMs: 2000 });
  expect(gw.logs.at(-1)).toMatchObject({ event: 'stopped' });
});
