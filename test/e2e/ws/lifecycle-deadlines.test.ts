import { test, expect } from 'vitest';
import { once } from 'node:events';
import type { WebSocket } from 'ws';
import { ManualClock } from '../../../src/core/clock.js';
import { startGateway, proxyConfig } from '../../helpers/gateway.js';
import { startWsEcho } from '../../helpers/servers.js';
import { openWs, closed } from '../../helpers/clients.js';

// Deadlines run on a ManualClock: a tunnel times out only when the test advances it, on the
// clock's first tick at or after the limit (the clock starts with the first tunnel).

function upstreamClose(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return once(ws, 'close').then(([code, reason]) => ({ code: code as number, reason: (reason as Buffer).toString() }));
}

// Resolves when `event` arrives on the client; rejects if its connection closes first.
function eventOrClose(ws: WebSocket, event: 'pong' | 'message'): Promise<void> {
  return new Promise((resolve, reject) => {
    const onClose = (code: number): void => {
      ws.off(event, onEvent);
      reject(new Error(`closed with ${code} while still expected open`));
    };
    const onEvent = (): void => {
      ws.off('close', onClose);
      resolve();
    };
    ws.once(event, onEvent);
    ws.once('close', onClose);
  });
}

// A ping through the gateway and the upstream's pong back: control frames only, no data message.
function pingPong(ws: WebSocket): Promise<void> {
  const ponged = eventOrClose(ws, 'pong');
  ws.ping('are you there');
  return ponged;
}

function echo(ws: WebSocket, text: string): Promise<void> {
  const echoed = eventOrClose(ws, 'message');
  ws.send(text);
  return echoed;
}

test('a tunnel with no data message either way for idleTimeout closes both sides with 1001 "idle timeout"', async () => {
  const clock = new ManualClock();
  const up = await startWsEcho();
  const gw = await startGateway(proxyConfig(up.url, { websocket: { idleTimeout: '100ms', pingInterval: '0s' } }), undefined, { clock });
  const ws = await openWs(gw.wsUrl('/ws'));
  const upstreamClosed = upstreamClose(up.connections[0]!);
  clock.advance(99);
  await pingPong(ws); // still open just short of the limit
  const done = closed(ws);
  clock.advance(clock.tick);
  expect(await done).toEqual({ code: 1001, reason: 'idle timeout' });
  expect(await upstreamClosed).toEqual({ code: 1001, reason: 'idle timeout' });
  const log = await gw.waitForLog((l) => l.event === 'ws_close');
  expect(log).toMatchObject({ code: 1001, reason: 'idle timeout', initiator: 'gateway', error: 'WS_IDLE_TIMEOUT', messagesIn: 0, messagesOut: 0 });
});

test('pings and pongs alone do not keep an idle tunnel open', async () => {
  const clock = new ManualClock();
  const up = await startWsEcho();
  const gw = await startGateway(proxyConfig(up.url, { websocket: { idleTimeout: '100ms', pingInterval: '0s' } }), undefined, { clock });
  const ws = await openWs(gw.wsUrl('/ws'));
  const upstreamClosed = upstreamClose(up.connections[0]!);
  // Control traffic between every tick up to the limit.
  let elapsed = 0;
  while (elapsed < 99) {
    await pingPong(ws);
    const step = Math.min(clock.tick, 99 - elapsed);
    clock.advance(step);
    elapsed += step;
  }
  await pingPong(ws);
  const done = closed(ws);
  clock.advance(clock.tick);
  expect(await done).toEqual({ code: 1001, reason: 'idle timeout' });
  expect((await upstreamClosed).code).toBe(1001);
  expect(await gw.waitForLog((l) => l.event === 'ws_close')).toMatchObject({ code: 1001, initiator: 'gateway', messagesIn: 0, messagesOut: 0 });
});

test('maxLifetime closes both sides with 1008 "connection lifetime reached", even while messages flow', async () => {
  const clock = new ManualClock();
  const up = await startWsEcho();
  const gw = await startGateway(proxyConfig(up.url, { websocket: { maxLifetime: '200ms' } }), undefined, { clock });
  const ws = await openWs(gw.wsUrl('/ws'));
  const upstreamClosed = upstreamClose(up.connections[0]!);
  // An echoed message between every tick up to the limit.
  let elapsed = 0;
  let echoes = 0;
  while (elapsed < 199) {
    await echo(ws, `at ${elapsed} ms`);
    echoes++;
    const step = Math.min(clock.tick, 199 - elapsed);
    clock.advance(step);
    elapsed += step;
  }
  await echo(ws, 'last');
  echoes++;
  const done = closed(ws);
  clock.advance(clock.tick);
  expect(await done).toEqual({ code: 1008, reason: 'connection lifetime reached' });
  expect(await upstreamClosed).toEqual({ code: 1008, reason: 'connection lifetime reached' });
  const log = await gw.waitForLog((l) => l.event === 'ws_close');
  expect(log).toMatchObject({ code: 1008, reason: 'connection lifetime reached', initiator: 'gateway', error: 'WS_LIFETIME_REACHED', messagesIn: echoes, messagesOut: echoes });
});
