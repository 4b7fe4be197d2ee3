import { test, expect } from 'vitest';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { WebSocket } from 'ws';
import { startGateway, proxyConfig, type TestGateway } from '../../helpers/gateway.js';
import { startWsEcho, type WsUpstream } from '../../helpers/servers.js';
import { openWs, nextMessage, closed, rawWsClient, rawWsSocket, frame } from '../../helpers/clients.js';
import { frameCollector } from '../../helpers/ws.js';

async function echoTunnel(): Promise<{ ws: WebSocket; gw: TestGateway; up: WsUpstream }> {
  const up = await startWsEcho();
  const gw = await startGateway(proxyConfig(up.url, { websocket: { maxMessageBytes: '2mb' } }));
  const ws = await openWs(gw.wsUrl('/ws'), undefined, { perMessageDeflate: false });
  return { ws, gw, up };
}

test('echoes a text message as text and a binary message as binary', async () => {
  const { ws } = await echoTunnel();
  ws.send('héllo wörld');
  const text = await nextMessage(ws);
  expect(text).toEqual({ data: Buffer.from('héllo wörld'), isBinary: false });
  const bytes = randomBytes(300);
  ws.send(bytes);
  const bin = await nextMessage(ws);
  expect(bin.isBinary).toBe(true);
  expect(bin.data.equals(bytes)).toBe(true);
});

test.each([0, 1, 125, 126, 127, 65535, 65536, 1024 * 1024])('a %i byte message crosses intact both ways', async (size) => {
  const { ws, up } = await echoTunnel();
  const payload = randomBytes(size);
  let upstreamGot: Buffer | null = null;
  up.connections[0]!.once('message', (data: Buffer) => {
    upstreamGot = data;
  });
  ws.send(payload);
  const m = await nextMessage(ws);
  expect(upstreamGot).not.toBeNull();
  expect(upstreamGot!.equals(payload)).toBe(true);
  expect(m.isBinary).toBe(true);
  expect(m.data.length).toBe(size);
  expect(m.data.equals(payload)).toBe(true);
});

test('a fragmented message arrives whole', async () => {
  const { ws, up } = await echoTunnel();
  const upstreamGot = once(up.connections[0]!, 'message') as Promise<[Buffer]>;
  ws.send('frag-', { fin: false });
  ws.send('men-', { fin: false });
  ws.send(Buffer.alloc(70_000, 'x'), { fin: false });
  ws.send('ted', { fin: true });
  const m = await nextMessage(ws);
  const expected = 'frag-men-' + 'x'.repeat(70_000) + 'ted';
  expect((await upstreamGot)[0].toString()).toBe(expected);
  expect(m.isBinary).toBe(false);
  expect(m.data.toString()).toBe(expected);
});

test('a ping between fragments crosses without breaking the message', async () => {
  const { ws, up } = await echoTunnel();
  const pinged = once(up.connections[0]!, 'ping') as Promise<[Buffer]>;
  ws.send('one-', { fin: false });
  ws.ping('between');
  ws.send('two', { fin: true });
  expect((await pinged)[0].toString()).toBe('between');
  expect((await nextMessage(ws)).data.toString()).toBe('one-two');
});

test('ws_close counts messages and bytes in both directions', async () => {
  const { ws, gw } = await echoTunnel();
  for (let i = 0; i < 5; i++) {
    ws.send(`message ${i}`);
    expect((await nextMessage(ws)).data.toString()).toBe(`message ${i}`);
  }
  ws.send('a', { fin: false });
  ws.send('b', { fin: true });
  await nextMessage(ws);
  const done = closed(ws);
  ws.close(1000, 'done');
  await done;
  const log = await gw.waitForLog((l) => l.event === 'ws_close');
  expect(log).toMatchObject({ route: 'app', code: 1000, reason: 'done', initiator: 'client', messagesIn: 6, messagesOut: 6 });
  expect(log.bytesIn as number).toBeGreaterThan(6 * 6);
  expect(log.bytesOut as number).toBeGreaterThan(6 * 2);
  expect(log.durationMs as number).toBeGreaterThanOrEqual(0);
  const open = gw.logs.find((l) => l.event === 'ws_open');
  expect(open).toMatchObject({ id: log.id, route: 'app', client: '127.0.0.1' });
});

test('a client close 4001 "bye" reaches the upstream and its answer comes back', async () => {
  const { ws, gw, up } = await echoTunnel();
  const upstreamClosed = once(up.connections[0]!, 'close');
  const done = closed(ws);
  ws.close(4001, 'bye');
  const [code, reason] = (await upstreamClosed) as [number, Buffer];
  expect({ code, reason: reason.toString() }).toEqual({ code: 4001, reason: 'bye' });
  expect((await done).code).toBe(4001);
  const log = await gw.waitForLog((l) => l.event === 'ws_close');
  expect(log).toMatchObject({ code: 4001, reason: 'bye', initiator: 'client' });
});

test('an upstream close 4002 "server bye" reaches the client', async () => {
  const { ws, gw, up } = await echoTunnel();
  const upstreamClosed = once(up.connections[0]!, 'close');
  const done = closed(ws);
  up.connections[0]!.close(4002, 'server bye');
  expect(await done).toEqual({ code: 4002, reason: 'server bye' });
  expect((await upstreamClosed)[0]).toBe(4002);
  const log = await gw.waitForLog((l) => l.event === 'ws_close');
  expect(log).toMatchObject({ code: 4002, reason: 'server bye', initiator: 'upstream' });
});

test('a close without a code is relayed as 1005 both ways', async () => {
  const { ws, gw, up } = await echoTunnel();
  const upstreamClosed = once(up.connections[0]!, 'close');
  const done = closed(ws);
  ws.close();
  expect((await upstreamClosed)[0]).toBe(1005);
  expect((await done).code).toBe(1005);
  expect(await gw.waitForLog((l) => l.event === 'ws_close')).toMatchObject({ code: 1005, initiator: 'client' });
});

test('a ping crosses to the upstream and its pong comes back', async () => {
  const { ws, up } = await echoTunnel();
  const pinged = once(up.connections[0]!, 'ping') as Promise<[Buffer]>;
  const ponged = once(ws, 'pong') as Promise<[Buffer]>;
  ws.ping('are you there');
  expect((await pinged)[0].toString()).toBe('are you there');
  expect((await ponged)[0].toString()).toBe('are you there');
});

test('frames the client sends with its handshake, before the 101, still reach the upstream', async () => {
  const up = await startWsEcho();
  const gw = await startGateway(proxyConfig(up.url));
  const { socket, rest } = await rawWsSocket(gw.port, '/ws', frame(0x1, 'early bird'));
  const frames = frameCollector(socket, rest);
  socket.resume();
  const echoed = await frames.waitFor((f) => f.opcode === 0x1);
  expect(echoed.payload.toString()).toBe('early bird');
  expect(echoed.masked).toBe(false);
});

test('nothing the client sends after its close frame reaches the upstream', async () => {
  const received: string[] = [];
  const up = await startWsEcho({}, (ws) => ws.on('message', (d: Buffer) => received.push(d.toString())));
  const gw = await startGateway(proxyConfig(up.url));
  const client = await rawWsClient(gw.port, '/ws');
  const upstreamClosed = once(up.connections[0]!, 'close');
  client.send(Buffer.concat([frame(0x1, 'before'), frame(0x8, Buffer.from([0x0f, 0xa1, 0x78])), frame(0x1, 'after')]));
  const [code, reason] = (await upstreamClosed) as [number, Buffer];
  expect({ code, reason: reason.toString() }).toEqual({ code: 4001, reason: 'x' });
  await client.ended;
  expect(received).toEqual(['before']);
  expect(await gw.waitForLog((l) => l.event === 'ws_close')).toMatchObject({ code: 4001, initiator: 'client', messagesIn: 1 });
});
