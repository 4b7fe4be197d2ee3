import { test, expect } from 'vitest';
import { once } from 'node:events';
import type { WebSocket } from 'ws';
import { ManualClock } from '../../../src/core/clock.js';
import { startGateway, proxyConfig } from '../../helpers/gateway.js';
import { recordingEcho, type RecordingEcho } from '../../helpers/servers.js';
import { openWs, nextMessage, closed, rawWsClient, frame, parseFrames } from '../../helpers/clients.js';

// The payload the gateway puts in its own heartbeat pings.
const HEARTBEAT = 'wsgate-hb';

// The payloads of the next `count` pings; rejects if the connection closes first.
function pings(ws: WebSocket, count: number): Promise<string[]> {
  const seen: string[] = [];
  return new Promise((resolve, reject) => {
    const onClose = (code: number, reason: Buffer): void => {
      ws.off('ping', onPing);
      reject(new Error(`closed with ${code} "${reason.toString()}" after ${seen.length} pings`));
    };
    const onPing = (data: Buffer): void => {
      seen.push(data.toString());
      if (seen.length < count) return;
      ws.off('ping', onPing);
      ws.off('close', onClose);
      resolve(seen);
    };
    ws.on('ping', onPing);
    ws.once('close', onClose);
  });
}

// Deadlines run on a ManualClock: pings go out and pongs time out only when the test advances it.
const PING_INTERVAL_MS = 100;
const PONG_TIMEOUT_MS = 200;
const HEARTBEAT_ROUTE = { websocket: { pingInterval: `${PING_INTERVAL_MS}ms`, pongTimeout: `${PONG_TIMEOUT_MS}ms` } };

// The upstream pings the client through the gateway and waits for the pong. That pong left the
// client after everything the client sent before it, on one ordered stream, so once it is back the
// gateway has read all of that (and, the clock standing still, at the same clock time).
async function upstreamRoundTrip(up: RecordingEcho, payload: string): Promise<void> {
  const upstream = up.upstream();
  const ponged = new Promise<void>((resolve) => {
    const onPong = (data: Buffer): void => {
      if (data.toString() !== payload) return;
      upstream.off('pong', onPong);
      resolve();
    };
    upstream.on('pong', onPong);
  });
  upstream.ping(payload);
  await ponged;
}

// One heartbeat round: pingInterval of client silence brings the gateway's ping, which ws answers
// on its own; returns once the gateway has read that answer.
async function heartbeatRound(clock: ManualClock, ws: WebSocket, up: RecordingEcho, sync: string): Promise<void> {
  const pinged = pings(ws, 1);
  clock.advance(PING_INTERVAL_MS);
  expect(await pinged).toEqual([HEARTBEAT]);
  await upstreamRoundTrip(up, sync);
}

// Rejects if the client's connection closes before the upstream's next message reaches it.
function nextMessageOrClose(ws: WebSocket): Promise<string> {
  return new Promise((resolve, reject) => {
    const onClose = (code: number): void => {
      ws.off('message', onMessage);
      reject(new Error(`closed with ${code} while still expected open`));
    };
    const onMessage = (data: Buffer): void => {
      ws.off('close', onClose);
      resolve(data.toString());
    };
    ws.once('message', onMessage);
    ws.once('close', onClose);
  });
}

test('a silent client that answers pings stays connected across ping rounds, and its pongs never reach the upstream', async () => {
  const clock = new ManualClock();
  const up = await recordingEcho();
  const gw = await startGateway(proxyConfig(up.url, HEARTBEAT_ROUTE), undefined, { clock });
  const ws = await openWs(gw.wsUrl('/ws'));
  let closes = 0;
  ws.on('close', () => closes++);
  // Three rounds: 300 ms of client silence, longer than the pong timeout.
  for (const sync of ['sync 1', 'sync 2', 'sync 3']) await heartbeatRound(clock, ws, up, sync);
  expect(ws.readyState).toBe(ws.OPEN);
  ws.send('still talking');
  expect((await nextMessage(ws)).data.toString()).toBe('still talking');
  expect(up.messages).toEqual(['still talking']);
  // Only the pongs to the upstream's own pings reached it.
  expect(up.pongs).toEqual(['sync 1', 'sync 2', 'sync 3']);
  expect(closes).toBe(0);
  expect(gw.logs.some((l) => l.event === 'ws_close')).toBe(false);
});

test("the upstream's own ping is relayed to the client and the client's pong reaches the upstream", async () => {
  const clock = new ManualClock();
  const up = await recordingEcho();
  const gw = await startGateway(proxyConfig(up.url, HEARTBEAT_ROUTE), undefined, { clock });
  const ws = await openWs(gw.wsUrl('/ws'));
  await heartbeatRound(clock, ws, up, 'sync 1');
  const clientPinged = new Promise<void>((resolve) => {
    const onPing = (data: Buffer): void => {
      if (data.toString() !== 'from upstream') return;
      ws.off('ping', onPing);
      resolve();
    };
    ws.on('ping', onPing);
  });
  const upstreamPonged = once(up.upstream(), 'pong');
  up.upstream().ping('from upstream');
  await clientPinged;
  expect(((await upstreamPonged)[0] as Buffer).toString()).toBe('from upstream');
  // Gateway pings keep coming and are answered; none of those pongs is relayed.
  await heartbeatRound(clock, ws, up, 'sync 2');
  await heartbeatRound(clock, ws, up, 'sync 3');
  ws.send('after');
  expect((await nextMessage(ws)).data.toString()).toBe('after');
  expect(up.pongs).toEqual(['sync 1', 'from upstream', 'sync 2', 'sync 3']);
  expect(ws.readyState).toBe(ws.OPEN);
});

test('a client that never answers pings is disconnected after pongTimeout, and the upstream hears 1001 "heartbeat lost"', async () => {
  const clock = new ManualClock();
  const up = await recordingEcho();
  const gw = await startGateway(proxyConfig(up.url, HEARTBEAT_ROUTE), undefined, { clock });
  const ws = await openWs(gw.wsUrl('/ws'), undefined, { autoPong: false });
  ws.send('hello');
  expect((await nextMessage(ws)).data.toString()).toBe('hello');
  const pinged = pings(ws, 1);
  clock.advance(PING_INTERVAL_MS);
  expect(await pinged).toEqual([HEARTBEAT]);
  // Just short of pongTimeout the client is still connected: the upstream's next message reaches it.
  clock.advance(PONG_TIMEOUT_MS - 1);
  up.upstream().send('not yet');
  expect(await nextMessageOrClose(ws)).toBe('not yet');
  const upstreamClosed = once(up.upstream(), 'close');
  const clientClosed = closed(ws);
  clock.advance(clock.tick);
  const [code, reason] = (await upstreamClosed) as [number, Buffer];
  expect({ code, reason: reason.toString() }).toEqual({ code: 1001, reason: 'heartbeat lost' });
  // The client gets no close frame: its connection just ends.
  expect((await clientClosed).code).toBe(1006);
  const log = await gw.waitForLog((l) => l.event === 'ws_close');
  expect(log).toMatchObject({ code: 1001, reason: 'heartbeat lost', initiator: 'gateway', error: 'WS_HEARTBEAT_LOST', messagesIn: 1, messagesOut: 2 });
  expect(up.messages).toEqual(['hello']);
  expect(up.pongs).toEqual([]);
});

test('a pong to the gateway ping is dropped even when frames share its write; other pongs are relayed', async () => {
  const clock = new ManualClock();
  const up = await recordingEcho();
  const gw = await startGateway(proxyConfig(up.url, { websocket: { pingInterval: `${PING_INTERVAL_MS}ms`, pongTimeout: '10s' } }), undefined, { clock });
  const client = await rawWsClient(gw.port, '/ws');
  clock.advance(PING_INTERVAL_MS);
  const ping = parseFrames(await client.waitFor((b) => parseFrames(b).some((f) => f.opcode === 0x9))).find((f) => f.opcode === 0x9)!;
  expect(ping.payload.toString()).toBe(HEARTBEAT);
  const received = (n: number): Promise<Buffer> => client.waitFor((b) => parseFrames(b).filter((f) => f.opcode === 0x1).length >= n);
  // Pong, then text, in one write.
  client.send(Buffer.concat([frame(0xa, ping.payload), frame(0x1, 'after pong')]));
  await received(1);
  expect(up.messages).toEqual(['after pong']);
  expect(up.pongs).toEqual([]);
  // Text, pong, text in one write: both texts cross, the pong does not.
  client.send(Buffer.concat([frame(0x1, 'before'), frame(0xa, HEARTBEAT), frame(0x1, 'behind')]));
  await received(3);
  expect(up.messages).toEqual(['after pong', 'before', 'behind']);
  expect(up.pongs).toEqual([]);
  // A pong the client sends on its own, with another payload, is the upstream's business.
  const upstreamPonged = once(up.upstream(), 'pong');
  client.send(Buffer.concat([frame(0xa, 'unsolicited'), frame(0x1, 'last')]));
  expect(((await upstreamPonged)[0] as Buffer).toString()).toBe('unsolicited');
  await received(4);
  expect(up.messages).toEqual(['after pong', 'before', 'behind', 'last']);
  expect(up.pongs).toEqual(['unsolicited']);
  const echoed = parseFrames(client.received).filter((f) => f.opcode === 0x1).map((f) => f.payload.toString());
  expect(echoed).toEqual(['after pong', 'before', 'behind', 'last']);
});

test('a pong to the gateway ping that arrives cut in two writes is dropped as well', async () => {
  const clock = new ManualClock();
  const up = await recordingEcho();
  const gw = await startGateway(proxyConfig(up.url, { websocket: { pingInterval: `${PING_INTERVAL_MS}ms`, pongTimeout: '10s' } }), undefined, { clock });
  const client = await rawWsClient(gw.port, '/ws');
  clock.advance(PING_INTERVAL_MS);
  await client.waitFor((b) => parseFrames(b).some((f) => f.opcode === 0x9));
  const pong = frame(0xa, HEARTBEAT);
  const text = frame(0x1, 'whole');
  client.send(pong.subarray(0, 3));
  client.send(Buffer.concat([pong.subarray(3), text]));
  await client.waitFor((b) => parseFrames(b).some((f) => f.opcode === 0x1));
  expect(up.messages).toEqual(['whole']);
  expect(up.pongs).toEqual([]);
});
