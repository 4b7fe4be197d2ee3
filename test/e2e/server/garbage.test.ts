// Bad input never crashes the gateway: random bytes as HTTP, random frames after a valid WebSocket
// handshake, and random bytes from an upstream, each on many connections; afterwards it still serves.
import { test, expect } from 'vitest';
import { connect } from 'node:net';
import { once } from 'node:events';
import { startGateway, proxyConfig } from '../../helpers/gateway.js';
import { startWsEcho, startRawUpstream } from '../../helpers/servers.js';
import { openWs, expectEcho, rawWsSocket } from '../../helpers/clients.js';
import { prng, randomBytes } from '../../helpers/random.js';

async function sendAndWaitClose(port: number, bytes: Buffer[]): Promise<void> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  socket.resume();
  await once(socket, 'connect');
  for (const b of bytes) socket.write(b);
  socket.end();
  await once(socket, 'close');
}

test('random bytes as HTTP requests get answers or closes, and the gateway keeps serving', async () => {
  const up = await startWsEcho();
  const gw = await startGateway(proxyConfig(up.url, {}, { limits: { headersTimeout: '200ms' } }));
  const next = prng(0xc0ffee);
  const heads = ['GET / HTTP/1.1\r\n', 'POST /x HTTP/1.1\r\nContent-Length: 5\r\n', 'GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n', ''];
  for (let i = 0; i < 60; i++) {
    const head = Buffer.from(heads[i % heads.length]!);
    await sendAndWaitClose(gw.port, [head, randomBytes(next, 1 + Math.floor(next() * 600))]);
  }
  await expectEcho(await openWs(gw.wsUrl('/after')), 'still here');
});

test('random frames after a valid handshake close that tunnel only', async () => {
  const up = await startWsEcho();
  const gw = await startGateway(proxyConfig(up.url));
  const next = prng(0xbadf00d);
  for (let i = 0; i < 40; i++) {
    const { socket } = await rawWsSocket(gw.port, '/ws');
    socket.resume();
    socket.write(randomBytes(next, 1 + Math.floor(next() * 2000)));
    socket.end();
    await once(socket, 'close');
  }
  await expectEcho(await openWs(gw.wsUrl('/after')), 'still here');
});

test('an upstream answering random bytes is a 502 or a closed tunnel, never a crash', async () => {
  const next = prng(0x5eed);
  const up = await startRawUpstream((socket) => {
    socket.once('data', () => {
      socket.write(randomBytes(next, 1 + Math.floor(next() * 400)));
      socket.end();
    });
  });
  const gw = await startGateway(proxyConfig(up.url));
  for (let i = 0; i < 30; i++) {
    const res = await fetch(gw.url(`/x${i}`)).catch(() => null);
    if (res !== null) expect([502, 504]).toContain(res.status);
    await res?.arrayBuffer();
  }
  for (let i = 0; i < 20; i++) {
    const { socket } = await rawWsSocket(gw.port, '/ws').catch(() => ({ socket: null }));
    socket?.destroy();
  }
  expect((await fetch(gw.adminUrl('/healthz'))).status).toBe(200);
});
