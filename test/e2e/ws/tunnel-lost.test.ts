import { test, expect } from 'vitest';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { startGateway, proxyConfig, type TestGateway } from '../../helpers/gateway.js';
import { startWsEcho } from '../../helpers/servers.js';
import { openWs, nextMessage, closed, rawHttp, rawWsClient, frame, expectEcho } from '../../helpers/clients.js';
import { handshakeRequest, startHandshakeUpstream, switchingProtocols, frameHeader, closeOf, type HandshakeSeen } from '../../helpers/ws.js';

// The gateway still opens tunnels and relays after whatever the test did to it.
async function stillRelays(gw: TestGateway): Promise<void> {
  const ws = await openWs(gw.wsUrl('/ws'));
  await expectEcho(ws, 'still here');
  const done = closed(ws);
  ws.close(1000);
  await done;
}

test('an upstream that drops its connection without a close frame gives the client 1014', async () => {
  const up = await startWsEcho();
  const gw = await startGateway(proxyConfig(up.url));
  const ws = await openWs(gw.wsUrl('/ws'));
  const done = closed(ws);
  up.connections[0]!.terminate();
  expect((await done).code).toBe(1014);
  const log = await gw.waitForLog((l) => l.event === 'ws_close');
  expect(log).toMatchObject({ code: 1014, initiator: 'upstream', error: 'WS_UPSTREAM_LOST' });
});

test('a client that drops its connection: the upstream hears 1001 and ws_close says 1006 from the client', async () => {
  const up = await startWsEcho();
  const gw = await startGateway(proxyConfig(up.url));
  const ws = await openWs(gw.wsUrl('/ws'));
  ws.send('one');
  await nextMessage(ws);
  const upstreamClosed = once(up.connections[0]!, 'close');
  ws.terminate();
  expect((await upstreamClosed)[0]).toBe(1001);
  const log = await gw.waitForLog((l) => l.event === 'ws_close');
  expect(log).toMatchObject({ code: 1006, initiator: 'client', messagesIn: 1, messagesOut: 1 });
});

test('a client reset (RST) is handled like a lost connection', async () => {
  const up = await startWsEcho();
  const gw = await startGateway(proxyConfig(up.url));
  const client = await rawWsClient(gw.port, '/ws');
  const upstreamClosed = once(up.connections[0]!, 'close');
  client.socket.resetAndDestroy();
  expect((await upstreamClosed)[0]).toBe(1001);
  expect(await gw.waitForLog((l) => l.event === 'ws_close')).toMatchObject({ code: 1006, initiator: 'client' });
  await stillRelays(gw);
});

test('a client that vanishes during the handshake does not disturb the gateway', async () => {
  const up = await startWsEcho();
  const gw = await startGateway(proxyConfig(up.url));
  // Half a request head, then gone.
  const half = connect(gw.port, '127.0.0.1');
  half.on('error', () => undefined);
  await once(half, 'connect');
  half.write(handshakeRequest(gw.port, '/ws').slice(0, 40));
  half.destroy();
  await once(half, 'close');
  // A whole head, then a reset before any answer.
  const reset = connect(gw.port, '127.0.0.1');
  reset.on('error', () => undefined);
  await once(reset, 'connect');
  reset.write(handshakeRequest(gw.port, '/ws'));
  reset.resetAndDestroy();
  await once(reset, 'close');
  await stillRelays(gw);
});

test('a client that leaves while the upstream handshake is pending: the gateway abandons it and logs 499', async () => {
  let held!: (seen: HandshakeSeen) => void;
  const request = new Promise<HandshakeSeen>((resolve) => (held = resolve));
  const up = await startHandshakeUpstream((seen) => {
    if (up.requests.length === 1) held(seen);
    else seen.socket.write(switchingProtocols(seen.key));
  });
  const gw = await startGateway(proxyConfig(up.url));
  const client = connect(gw.port, '127.0.0.1');
  client.on('error', () => undefined);
  await once(client, 'connect');
  client.write(handshakeRequest(gw.port, '/ws'));
  const { socket } = await request;
  const upstreamClosed = once(socket, 'close');
  client.end(); // FIN: the client gave up waiting
  // The gateway closes the upstream connection it no longer needs, instead of opening a dead tunnel.
  await upstreamClosed;
  expect(await gw.waitForLog((l) => l.event === 'http_request')).toMatchObject({ status: 499, websocket: true });
  expect(gw.logs.some((l) => l.event === 'ws_open')).toBe(false);
  // A new client still gets a tunnel.
  const again = await openWs(gw.wsUrl('/ws'));
  expect(again.readyState).toBe(1);
});

test('a client that leaves right after the 101 is logged as a lost client', async () => {
  const up = await startWsEcho();
  const gw = await startGateway(proxyConfig(up.url));
  const client = await rawWsClient(gw.port, '/ws');
  client.socket.destroy();
  expect(await gw.waitForLog((l) => l.event === 'ws_close')).toMatchObject({ code: 1006, initiator: 'client' });
  await stillRelays(gw);
});

test('a client that leaves in the middle of a frame: the upstream connection ends and the gateway keeps serving', async () => {
  const up = await startWsEcho();
  const gw = await startGateway(proxyConfig(up.url));
  const client = await rawWsClient(gw.port, '/ws');
  const upstreamClosed = once(up.connections[0]!, 'close');
  const whole = frame(0x2, Buffer.alloc(5000, 7));
  client.send(whole.subarray(0, 2000));
  client.socket.destroy();
  // Mid-frame there is no place for a close frame: the upstream sees the connection end (1006).
  expect((await upstreamClosed)[0]).toBe(1006);
  expect(await gw.waitForLog((l) => l.event === 'ws_close')).toMatchObject({ code: 1006, initiator: 'client' });
  await stillRelays(gw);
});

test('an upstream that dies in the middle of a frame: the client connection ends, ws_close says 1014', async () => {
  const up = await startHandshakeUpstream(({ socket, key }) => {
    socket.write(switchingProtocols(key));
    socket.write(Buffer.concat([frameHeader(0x2, 5000, false), Buffer.alloc(1000, 3)]), () => socket.destroy());
  });
  const gw = await startGateway(proxyConfig(up.url));
  const ws = await openWs(gw.wsUrl('/ws'));
  let messages = 0;
  ws.on('message', () => messages++);
  // Mid-frame the client cannot be sent a close frame either: it sees 1006.
  expect((await closed(ws)).code).toBe(1006);
  expect(messages).toBe(0);
  expect(await gw.waitForLog((l) => l.event === 'ws_close')).toMatchObject({ code: 1014, initiator: 'upstream' });
});

test('an upstream that resets its connection gives the client 1014', async () => {
  const sockets: Socket[] = [];
  const up = await startHandshakeUpstream(({ socket, key }) => {
    sockets.push(socket);
    socket.write(switchingProtocols(key));
  });
  const gw = await startGateway(proxyConfig(up.url));
  const client = await rawWsClient(gw.port, '/ws');
  sockets[0]!.resetAndDestroy();
  await client.ended;
  expect(closeOf(client.received)).toEqual({ code: 1014, reason: 'upstream connection lost' });
  expect(await gw.waitForLog((l) => l.event === 'ws_close')).toMatchObject({ code: 1014, initiator: 'upstream' });
});

test('gw.close() closes every open WebSocket with 1001, logs each and resolves', async () => {
  const up = await startWsEcho();
  const gw = await startGateway(proxyConfig(up.url));
  const a = await openWs(gw.wsUrl('/ws/a'));
  const b = await openWs(gw.wsUrl('/ws/b'));
  const upstreamClosed = up.connections.map((ws: WebSocket) => once(ws, 'close'));
  const aClosed = closed(a);
  const bClosed = closed(b);
  await gw.close();
  expect(await aClosed).toEqual({ code: 1001, reason: 'gateway shutting down' });
  expect(await bClosed).toEqual({ code: 1001, reason: 'gateway shutting down' });
  for (const c of upstreamClosed) expect((await c)[0]).toBe(1001);
  const closes = gw.logs.filter((l) => l.event === 'ws_close');
  expect(closes).toHaveLength(2);
  for (const l of closes) expect(l).toMatchObject({ code: 1001, initiator: 'gateway', error: 'SHUTTING_DOWN' });
  expect(gw.logs.at(-1)).toMatchObject({ event: 'stopped' });
});

test('an upstream 101 that arrives while the gateway drains opens no tunnel: 503, and close() resolves', async () => {
  let held!: (seen: HandshakeSeen) => void;
  const request = new Promise<HandshakeSeen>((resolve) => (held = resolve));
  const up = await startHandshakeUpstream((seen) => held(seen));
  const gw = await startGateway(proxyConfig(up.url));
  const answer = rawHttp(gw.port, handshakeRequest(gw.port, '/ws'));
  const { socket, key } = await request;
  const closing = gw.close();
  await gw.waitForLog((l) => l.event === 'draining');
  socket.write(switchingProtocols(key));
  const res = await answer;
  expect(res.status).toBe(503);
  expect((JSON.parse(res.body) as { error: { code: string } }).error.code).toBe('SHUTTING_DOWN');
  await closing;
  expect(gw.logs.some((l) => l.event === 'ws_open')).toBe(false);
});
