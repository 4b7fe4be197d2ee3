import { test, expect } from 'vitest';
import { once } from 'node:events';
import type { WebSocket } from 'ws';
import { startGateway, proxyConfig } from '../../helpers/gateway.js';
import { startWsEcho } from '../../helpers/servers.js';
import { openWs, closed } from '../../helpers/clients.js';

function upstreamClose(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return once(ws, 'close').then(([code, reason]) => ({ code: code as number, reason: (reason as Buffer).toString() }));
}

test('a tunnel with no data message either way for idleTimeout closes both sides with 1001 "idle timeout"', async () => {
  const up = await startWsEcho();
  const gw = await startGateway(proxyConfig(up.url, { websocket: { idleTimeout: '100ms', pingInterval: '0s' } }));
  const ws = await openWs(gw.wsUrl('/ws'));
  const upstreamClosed = upstreamClose(up.connections[0]!);
  expect(await closed(ws)).toEqual({ code: 1001, reason: 'idle timeout' });
  expect(await upstreamClosed).toEqual({ code: 1001, reason: 'idle timeout' });
  const log = await gw.waitForLog((l) => l.event === 'ws_close');
  expect(log).toMatchObject({ code: 1001, reason: 'idle timeout', initiator: 'gateway', error: 'WS_IDLE_TIMEOUT', messagesIn: 0, messagesOut: 0 });
});

test('pings and pongs alone do not keep an idle tunnel open', async () => {
  const up = await startWsEcho();
  const gw = await startGateway(proxyConfig(up.url, { websocket: { idleTimeout: '100ms', pingInterval: '0s' } }));
  const ws = await openWs(gw.wsUrl('/ws'));
  const upstreamClosed = upstreamClose(up.connections[0]!);
  const done = closed(ws);
  // Control traffic without pause until the end: each pong (from the upstream) triggers the next ping.
  let rounds = 0;
  ws.on('pong', () => {
    rounds++;
    if (ws.readyState === ws.OPEN) ws.ping('are you there');
  });
  ws.ping('are you there');
  expect(await done).toEqual({ code: 1001, reason: 'idle timeout' });
  expect((await upstreamClosed).code).toBe(1001);
  expect(rounds).toBeGreaterThan(0);
  expect(await gw.waitForLog((l) => l.event === 'ws_close')).toMatchObject({ code: 1001, initiator: 'gateway', messagesIn: 0, messagesOut: 0 });
});

test('maxLifetime closes both sides with 1008 "connection lifetime reached", even while messages flow', async () => {
  const up = await startWsEcho();
  const gw = await startGateway(proxyConfig(up.url, { websocket: { maxLifetime: '150ms' } }));
  const ws = await openWs(gw.wsUrl('/ws'));
  const upstreamClosed = upstreamClose(up.connections[0]!);
  const done = closed(ws);
  // Keep the tunnel busy: every echo sends the next message, until the gateway ends it.
  let echoes = 0;
  ws.on('message', () => {
    echoes++;
    if (ws.readyState === ws.OPEN) ws.send('again');
  });
  ws.send('again');
  expect(await done).toEqual({ code: 1008, reason: 'connection lifetime reached' });
  expect(await upstreamClosed).toEqual({ code: 1008, reason: 'connection lifetime reached' });
  expect(echoes).toBeGreaterThan(0);
  const log = await gw.waitForLog((l) => l.event === 'ws_close');
  expect(log).toMatchObject({ code: 1008, reason: 'connection lifetime reached', initiator: 'gateway', error: 'WS_LIFETIME_REACHED' });
});
