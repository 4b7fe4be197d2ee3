import { test, expect } from 'vitest';
import type { Socket } from 'node:net';
import { startGateway, proxyConfig } from '../../helpers/gateway.js';
import { frame } from '../../helpers/clients.js';
import { rawWsSocket } from '../../helpers/clients.js';
import { startHandshakeUpstream, switchingProtocols, frameHeader, frameCollector, closeOf } from '../../helpers/ws.js';

test('a gateway close while the upstream is mid-frame toward the client waits for the frame to end, so the client never sees a torn frame', async () => {
  let upstreamSocket!: Socket;
  let upstreamFrames!: ReturnType<typeof frameCollector>;
  let ready!: () => void;
  const handshook = new Promise<void>((resolve) => (ready = resolve));
  const up = await startHandshakeUpstream(({ socket, key }) => {
    upstreamSocket = socket;
    upstreamFrames = frameCollector(socket);
    socket.write(switchingProtocols(key));
    // Half of a 1000-byte binary frame: the gateway is now mid-frame toward the client.
    socket.write(Buffer.concat([frameHeader(0x2, 1000, false), Buffer.alloc(500, 0x61)]));
    ready();
  });
  const gw = await startGateway(proxyConfig(up.url, { websocket: { maxMessageBytes: '1kb', pingInterval: '0s' } }));
  const { socket: client, rest } = await rawWsSocket(gw.port, '/ws');
  const frames = frameCollector(client, rest);
  client.resume();
  await handshook;
  await gw.waitForLog((l) => l.event === 'ws_open');
  // The client breaks maxMessageBytes: the gateway closes both sides with 1009...
  client.write(frame(0x2, Buffer.alloc(2048)));
  expect(closeOf(await upstreamFrames.waitFor((f) => f.opcode === 0x8)).code).toBe(1009);
  // ...but its close may only follow the rest of the frame the upstream is still sending.
  upstreamSocket.write(Buffer.alloc(500, 0x62));
  const close = await frames.waitFor((f) => f.opcode === 0x8);
  expect(closeOf(close).code).toBe(1009);
  const binary = frames.frames.filter((f) => f.opcode === 0x2);
  expect(binary).toHaveLength(1);
  expect(binary[0]!.payload.length).toBe(1000);
  expect(frames.frames.indexOf(binary[0]!)).toBeLessThan(frames.frames.indexOf(close));
});
