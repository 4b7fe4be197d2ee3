import { test, expect } from 'vitest';
import { once } from 'node:events';
import type { WebSocket } from 'ws';
import { startGateway, proxyConfig } from '../../helpers/gateway.js';
import { recordingEcho } from '../../helpers/servers.js';
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

test('a silent client that answers pings stays connected across ping rounds, and its pongs never reach the upstream', async () => {
  const up = await recordingEcho();
  const gw = await startGateway(proxyConfig(up.url, { websocket: { pingInterval: '50ms', pongTimeout: '100ms' } }));
  const ws = await openWs(gw.wsUrl('/ws'));
  let closes = 0;
  ws.on('close', () => closes++);
  // ws answers each ping with a pong before it emits 'ping'.
  expect(await pings(ws, 3)).toEqual([HEARTBEAT, HEARTBEAT, HEARTBEAT]);
  expect(ws.readyState).toBe(ws.OPEN);
  ws.send('still talking');
  expect((await nextMessage(ws)).data.toString()).toBe('still talking');
  // The pongs went out before the message on the same connection, so the upstream has seen
  // everything it was going to see of them.
  expect(up.messages).toEqual(['still talking']);
  expect(up.pongs).toEqual([]);
  expect(closes).toBe(0);
  expect(gw.logs.some((l) => l.event === 'ws_close')).toBe(false);
});

test("the upstream's own ping is relayed to the client and the client's pong reaches the upstream", async () => {
  const up = await recordingEcho();
  const gw = await startGateway(proxyConfig(up.url, { websocket: { pingInterval: '50ms', pongTimeout: '100ms' } }));
  const ws = await openWs(gw.wsUrl('/ws'));
  await pings(ws, 1);
  // The gateway's own pings keep arriving meanwhile: wait for this one by its payload.
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
  await pings(ws, 2);
  ws.send('after');
  expect((await nextMessage(ws)).data.toString()).toBe('after');
  expect(up.pongs).toEqual(['from upstream']);
  expect(ws.readyState).toBe(ws.OPEN);
});

test('a client that never answers pings is disconnected and the upstream hears 1001 "heartbeat lost"', async () => {
  const up = await recordingEcho();
  const gw = await startGateway(proxyConfig(up.url, { websocket: { pingInterval: '50ms', pongTimeout: '100ms' } }));
  const ws = await openWs(gw.wsUrl('/ws'), undefined, { autoPong: false });
  let pinged = 0;
  ws.on('ping', () => pinged++);
  ws.send('hello');
  expect((await nextMessage(ws)).data.toString()).toBe('hello');
  const upstreamClosed = once(up.upstream(), 'close');
  const clientClosed = closed(ws);
  const [code, reason] = (await upstreamClosed) as [number, Buffer];
  expect({ code, reason: reason.toString() }).toEqual({ code: 1001, reason: 'heartbeat lost' });
  // The client gets no close frame: its connection just ends.
  expect((await clientClosed).code).toBe(1006);
  expect(pinged).toBeGreaterThanOrEqual(1);
  const log = await gw.waitForLog((l) => l.event === 'ws_close');
  expect(log).toMatchObject({ code: 1001, reason: 'heartbeat lost', initiator: 'gateway', error: 'WS_HEARTBEAT_LOST', messagesIn: 1, messagesOut: 1 });
  expect(up.messages).toEqual(['hello']);
  expect(up.pongs).toEqual([]);
});

test('a pong to the gateway ping is dropped even when frames share its write; other pongs are relayed', async () => {
  const up = await recordingEcho();
  const gw = await startGateway(proxyConfig(up.url, { websocket: { pingInterval: '50ms', pongTimeout: '10s' } }));
  const client = await rawWsClient(gw.port, '/ws');
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
  const up = await recordingEcho();
  const gw = await startGateway(proxyConfig(up.url, { websocket: { pingInterval: '50ms', pongTimeout: '10s' } }));
  const client = await rawWsClient(gw.port, '/ws');
  await client.waitFor((b) => parseFrames(b).some((f) => f.opcode === 0x9));
  const pong = frame(0xa, HEARTBEAT);
  const text = frame(0x1, 'whole');
  client.send(pong.subarray(0, 3));
  client.send(Buffer.concat([pong.subarray(3), text]));
  await client.waitFor((b) => parseFrames(b).some((f) => f.opcode === 0x1));
  expect(up.messages).toEqual(['whole']);
  expect(up.pongs).toEqual([]);
});
