import { test, expect } from 'vitest';
import type { Socket } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { startGateway, proxyConfig } from '../../helpers/gateway.js';
import { rawWsSocket } from '../../helpers/clients.js';
import { startHandshakeUpstream, switchingProtocols, frameHeader, stalled, receiveAll, sha256Of } from '../../helpers/ws.js';

// The gateway runs in this process, so its memory is ours to measure. The peers write one shared
// 1 MiB payload 64 times (headers of their own, all-zero mask toward the upstream), so the test's own
// buffers do not grow; only what the gateway holds would.
const MESSAGES = 64;
const PAYLOAD = Buffer.alloc(1024 * 1024);
for (let i = 0; i < PAYLOAD.length; i++) PAYLOAD[i] = (i * 31 + (i >> 12)) & 0xff;
const MB = 1024 * 1024;

// Garbage from earlier reads would blur the numbers: collect it first, then count what is retained.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function retainedArrayBuffers(): number {
  gc();
  return process.memoryUsage().arrayBuffers;
}

async function tunnelToHandshakeUpstream(): Promise<{ client: { socket: Socket; rest: Buffer }; upstream: { socket: Socket; rest: Buffer } }> {
  let resolveUp!: (v: { socket: Socket; rest: Buffer }) => void;
  const upstream = new Promise<{ socket: Socket; rest: Buffer }>((resolve) => (resolveUp = resolve));
  const up = await startHandshakeUpstream(({ socket, key, rest }) => {
    socket.pause();
    socket.write(switchingProtocols(key));
    resolveUp({ socket, rest });
  });
  const gw = await startGateway(proxyConfig(up.url, { websocket: { maxMessageBytes: '2mb' } }));
  const client = await rawWsSocket(gw.port, '/ws');
  return { client, upstream: await upstream };
}

test('a paused client stalls the upstream: the gateway holds little, then all 64 MB arrive intact', async () => {
  const { client, upstream } = await tunnelToHandshakeUpstream();
  const header = frameHeader(0x2, PAYLOAD.length, false);
  const before = retainedArrayBuffers();
  // The client reads nothing; the upstream writes as fast as its socket takes it.
  let refused = 0;
  for (let i = 0; i < MESSAGES; i++) {
    if (!upstream.socket.write(header)) refused++;
    if (!upstream.socket.write(PAYLOAD)) refused++;
  }
  expect(refused).toBeGreaterThan(0);
  const stuck = await stalled(() => upstream.socket.writableLength);
  const growth = retainedArrayBuffers() - before;
  // Most of the 64 MB is still waiting in the upstream: the gateway stopped reading it.
  expect(stuck).toBeGreaterThan(24 * MB);
  expect(growth).toBeLessThan(8 * MB);

  const total = MESSAGES * (header.length + PAYLOAD.length);
  const got = receiveAll(client.socket, total, client.rest);
  client.socket.resume();
  const { bytes, sha256 } = await got;
  expect(bytes).toBe(total);
  expect(sha256).toBe(sha256Of([header, PAYLOAD], MESSAGES));
  // Both peers leave without a close handshake, so the gateway need not wait for them.
  client.socket.destroy();
  upstream.socket.destroy();
});

test('a paused upstream stalls the client: the gateway holds little, then all 64 MB arrive intact', async () => {
  const { client, upstream } = await tunnelToHandshakeUpstream();
  const header = frameHeader(0x2, PAYLOAD.length, true); // masked with the all-zero key
  const before = retainedArrayBuffers();
  let refused = 0;
  for (let i = 0; i < MESSAGES; i++) {
    if (!client.socket.write(header)) refused++;
    if (!client.socket.write(PAYLOAD)) refused++;
  }
  expect(refused).toBeGreaterThan(0);
  const stuck = await stalled(() => client.socket.writableLength);
  const growth = retainedArrayBuffers() - before;
  expect(stuck).toBeGreaterThan(24 * MB);
  expect(growth).toBeLessThan(8 * MB);

  const total = MESSAGES * (header.length + PAYLOAD.length);
  const got = receiveAll(upstream.socket, total, upstream.rest);
  upstream.socket.resume();
  const { bytes, sha256 } = await got;
  expect(bytes).toBe(total);
  expect(sha256).toBe(sha256Of([header, PAYLOAD], MESSAGES));
  // Both peers leave without a close handshake, so the gateway need not wait for them.
  client.socket.destroy();
  upstream.socket.destroy();
});
