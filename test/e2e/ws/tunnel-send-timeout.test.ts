import { test, expect } from 'vitest';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { ManualClock } from '../../../src/core/clock.js';
import { startGateway, proxyConfig, type TestGateway } from '../../helpers/gateway.js';
import { rawWsSocket } from '../../helpers/clients.js';
import { startHandshakeUpstream, switchingProtocols, frameHeader, stalled, frameCollector, closeOf, receiveAll, sha256Of } from '../../helpers/ws.js';

// Issue 14: a side that stops reading is cut after websocket.sendTimeout, on the ManualClock; until
// then backpressure keeps the other side waiting. One 1 MiB payload is written many times, so the
// test's own buffers stay small.
const PAYLOAD = Buffer.alloc(1024 * 1024, 0x5a);
const MESSAGES = 32;

interface Tunnel {
  gw: TestGateway;
  clock: ManualClock;
  client: { socket: Socket; rest: Buffer };
  upstream: { socket: Socket; rest: Buffer };
}

async function tunnel(sendTimeout?: string): Promise<Tunnel> {
  const clock = new ManualClock();
  let resolveUp!: (v: { socket: Socket; rest: Buffer }) => void;
  const upstream = new Promise<{ socket: Socket; rest: Buffer }>((resolve) => (resolveUp = resolve));
  const up = await startHandshakeUpstream(({ socket, key, rest }) => {
    socket.pause();
    socket.on('error', () => undefined);
    socket.write(switchingProtocols(key));
    resolveUp({ socket, rest });
  });
  const websocket = { maxMessageBytes: '2mb', pingInterval: '0s', ...(sendTimeout === undefined ? {} : { sendTimeout }) };
  const gw = await startGateway(proxyConfig(up.url, { websocket }), undefined, { clock });
  const client = await rawWsSocket(gw.port, '/ws');
  return { gw, clock, client, upstream: await upstream };
}

// Writes MESSAGES binary messages of 1 MiB; true when the socket refused some (its queue backed up).
function flood(socket: Socket, masked: boolean): boolean {
  const header = frameHeader(0x2, PAYLOAD.length, masked);
  let refused = false;
  for (let i = 0; i < MESSAGES; i++) {
    if (!socket.write(header)) refused = true;
    if (!socket.write(PAYLOAD)) refused = true;
  }
  return refused;
}

test('a client that stops reading is cut after the default sendTimeout (30s) and the upstream hears 1008, logged as WS_SEND_TIMEOUT', async () => {
  const { gw, clock, client, upstream } = await tunnel();
  const upstreamFrames = frameCollector(upstream.socket, upstream.rest);
  upstream.socket.resume();
  expect(flood(upstream.socket, false)).toBe(true);
  // Backpressure reached the upstream: its writes stopped moving while the client reads nothing.
  const stuck = await stalled(() => upstream.socket.writableLength);
  expect(stuck).toBeGreaterThan(8 * PAYLOAD.length);

  clock.advance(30_000);
  const close = await upstreamFrames.waitFor((f) => f.opcode === 0x8);
  expect(closeOf(close)).toEqual({ code: 1008, reason: 'send timeout: the client stopped reading' });
  // The client's connection was cut: reading again, it finds the end after what had reached it.
  const clientGone = once(client.socket, 'close');
  client.socket.resume();
  await clientGone;
  upstream.socket.end(); // the upstream's side of the close: the tunnel ends
  const log = await gw.waitForLog((l) => l.event === 'ws_close');
  expect(log).toMatchObject({ code: 1008, reason: 'send timeout: the client stopped reading', initiator: 'gateway', error: 'WS_SEND_TIMEOUT' });
});

test('an upstream that stops reading is cut after sendTimeout and the client hears 1008', async () => {
  const { gw, clock, client, upstream } = await tunnel('5s');
  const clientFrames = frameCollector(client.socket, client.rest);
  client.socket.resume();
  expect(flood(client.socket, true)).toBe(true);
  const stuck = await stalled(() => client.socket.writableLength);
  expect(stuck).toBeGreaterThan(8 * PAYLOAD.length);

  clock.advance(5_000);
  const close = await clientFrames.waitFor((f) => f.opcode === 0x8);
  expect(closeOf(close)).toEqual({ code: 1008, reason: 'send timeout: the upstream stopped reading' });
  const upstreamGone = once(upstream.socket, 'close');
  upstream.socket.resume();
  await upstreamGone;
  const log = await gw.waitForLog((l) => l.event === 'ws_close');
  expect(log).toMatchObject({ code: 1008, initiator: 'gateway', error: 'WS_SEND_TIMEOUT' });
});

test('a consumer that catches up before sendTimeout keeps its tunnel: the clock starts again at each stall', async () => {
  const { gw, clock, client, upstream } = await tunnel('5s');
  expect(flood(upstream.socket, false)).toBe(true);
  await stalled(() => upstream.socket.writableLength);
  clock.advance(4_000);
  // The client reads everything: the stall ends, and far more than sendTimeout later all has arrived.
  const total = MESSAGES * (frameHeader(0x2, PAYLOAD.length, false).length + PAYLOAD.length);
  const got = receiveAll(client.socket, total, client.rest);
  client.socket.resume();
  const { bytes, sha256 } = await got;
  expect(bytes).toBe(total);
  expect(sha256).toBe(sha256Of([frameHeader(0x2, PAYLOAD.length, false), PAYLOAD], MESSAGES));
  clock.advance(60_000);
  // Still open: a small message crosses after the clock passed the limit many times over.
  const small = receiveAll(client.socket, 7);
  upstream.socket.write(Buffer.from([0x82, 0x05, 1, 2, 3, 4, 5]));
  expect((await small).bytes).toBe(7);
  expect(gw.logs.find((l) => l.event === 'ws_close')).toBeUndefined();
});
