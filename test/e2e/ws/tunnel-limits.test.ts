import { test, expect } from 'vitest';
import { once } from 'node:events';
import type { WebSocket } from 'ws';
import { startGateway, proxyConfig, type TestGateway } from '../../helpers/gateway.js';
import { startWsEcho } from '../../helpers/servers.js';
import { openWs, nextMessage, closed, rawWsClient, frame } from '../../helpers/clients.js';
import { startHandshakeUpstream, switchingProtocols, frameCollector, closeOf } from '../../helpers/ws.js';

async function limitedTunnel(): Promise<{ ws: WebSocket; upstreamWs: WebSocket; received: Buffer[]; gw: TestGateway }> {
  const received: Buffer[] = [];
  const up = await startWsEcho({}, (ws) => {
    ws.on('message', (data: Buffer) => {
      received.push(data);
      ws.send(data);
    });
  });
  const gw = await startGateway(proxyConfig(up.url, { websocket: { maxMessageBytes: '1kb' } }));
  const ws = await openWs(gw.wsUrl('/ws'), undefined, { perMessageDeflate: false });
  return { ws, upstreamWs: up.connections[0]!, received, gw };
}

test('closes with 1009 when a client message exceeds maxMessageBytes, and the upstream never sees it', async () => {
  const { ws, upstreamWs, received, gw } = await limitedTunnel();
  ws.send(Buffer.alloc(1024, 1)); // exactly the limit: allowed
  expect((await nextMessage(ws)).data.length).toBe(1024);
  const upstreamClosed = once(upstreamWs, 'close');
  const done = closed(ws);
  ws.send(Buffer.alloc(2048, 2));
  expect((await done).code).toBe(1009);
  expect((await upstreamClosed)[0]).toBe(1009);
  expect(received.map((b) => b.length)).toEqual([1024]);
  const log = await gw.waitForLog((l) => l.event === 'ws_close');
  expect(log).toMatchObject({ code: 1009, initiator: 'gateway', error: 'WS_MESSAGE_TOO_BIG', messagesIn: 1 });
});

test('the limit counts all fragments of one message: 600 + 600 bytes closes with 1009', async () => {
  const { ws, upstreamWs, received, gw } = await limitedTunnel();
  const upstreamClosed = once(upstreamWs, 'close');
  const done = closed(ws);
  ws.send(Buffer.alloc(600, 1), { fin: false });
  ws.send(Buffer.alloc(600, 2), { fin: true });
  expect((await done).code).toBe(1009);
  expect((await upstreamClosed)[0]).toBe(1009);
  expect(received).toEqual([]);
  expect(await gw.waitForLog((l) => l.event === 'ws_close')).toMatchObject({ code: 1009, initiator: 'gateway' });
});

test('an upstream message over the limit closes the client with 1009 as well', async () => {
  const { ws, upstreamWs, gw } = await limitedTunnel();
  const upstreamClosed = once(upstreamWs, 'close');
  const done = closed(ws);
  let clientGot = 0;
  ws.on('message', () => clientGot++);
  upstreamWs.send(Buffer.alloc(4096));
  expect((await done).code).toBe(1009);
  expect((await upstreamClosed)[0]).toBe(1009);
  expect(clientGot).toBe(0);
  expect(await gw.waitForLog((l) => l.event === 'ws_close')).toMatchObject({ code: 1009, initiator: 'gateway' });
});

test('an unmasked client frame gets a close 1002 and the connection ends', async () => {
  const up = await startWsEcho();
  const gw = await startGateway(proxyConfig(up.url));
  const client = await rawWsClient(gw.port, '/ws');
  const upstreamWs = up.connections[0]!;
  const upClose = once(upstreamWs, 'close');
  let upstreamMessages = 0;
  upstreamWs.on('message', () => upstreamMessages++);
  client.send(frame(0x1, 'hello', { masked: false }));
  await client.ended;
  expect(closeOf(client.received)).toEqual({ code: 1002, reason: 'unmasked client frame' });
  expect((await upClose)[0]).toBe(1002);
  expect(upstreamMessages).toBe(0);
  expect(await gw.waitForLog((l) => l.event === 'ws_close')).toMatchObject({ code: 1002, initiator: 'gateway', error: 'WS_PROTOCOL_ERROR' });
});

test('reserved bits without a negotiated extension close with 1002', async () => {
  const up = await startWsEcho();
  const gw = await startGateway(proxyConfig(up.url));
  const client = await rawWsClient(gw.port, '/ws');
  client.send(frame(0x1, 'fine'));
  await client.waitFor((b) => b.length >= 6);
  client.send(frame(0x1, 'compressed?', { rsv: 4 }));
  await client.ended;
  expect(closeOf(client.received)).toMatchObject({ code: 1002 });
  expect(await gw.waitForLog((l) => l.event === 'ws_close')).toMatchObject({ code: 1002, initiator: 'gateway', messagesIn: 1 });
});

test('an upstream that sends a masked frame: the client gets 1014 and the upstream 1002', async () => {
  const collectors: ReturnType<typeof frameCollector>[] = [];
  const up = await startHandshakeUpstream(({ socket, key, rest }) => {
    collectors.push(frameCollector(socket, rest));
    // 101, then a masked text frame: servers must never mask (RFC 6455 §5.1).
    socket.write(switchingProtocols(key));
    socket.write(frame(0x1, 'masked by mistake', { masked: true }));
  });
  const gw = await startGateway(proxyConfig(up.url));
  const ws = await openWs(gw.wsUrl('/ws'));
  let messages = 0;
  ws.on('message', () => messages++);
  expect(await closed(ws)).toEqual({ code: 1014, reason: 'upstream protocol error' });
  expect(messages).toBe(0);
  const toUpstream = await collectors[0]!.waitFor((f) => f.opcode === 0x8);
  expect(toUpstream.masked).toBe(true);
  expect(closeOf(toUpstream)).toEqual({ code: 1002, reason: 'masked server frame' });
  const log = await gw.waitForLog((l) => l.event === 'ws_close');
  expect(log).toMatchObject({ code: 1014, initiator: 'gateway', error: 'WS_PROTOCOL_ERROR' });
});

test('a client close frame with a code that may not travel (1006) is a protocol error: 1002', async () => {
  const up = await startWsEcho();
  const gw = await startGateway(proxyConfig(up.url));
  const client = await rawWsClient(gw.port, '/ws');
  const upClose = once(up.connections[0]!, 'close');
  client.send(frame(0x8, Buffer.from([0x03, 0xee])));
  await client.ended;
  expect(closeOf(client.received)).toEqual({ code: 1002, reason: 'invalid close code' });
  expect((await upClose)[0]).toBe(1002);
  expect(await gw.waitForLog((l) => l.event === 'ws_close')).toMatchObject({ code: 1002, initiator: 'gateway' });
});

test('a control frame longer than 125 bytes is a protocol error: 1002', async () => {
  const up = await startWsEcho();
  const gw = await startGateway(proxyConfig(up.url));
  const client = await rawWsClient(gw.port, '/ws');
  let pings = 0;
  up.connections[0]!.on('ping', () => pings++);
  client.send(frame(0x9, Buffer.alloc(126)));
  await client.ended;
  expect(closeOf(client.received)).toEqual({ code: 1002, reason: 'control frame too long' });
  expect(pings).toBe(0);
});
