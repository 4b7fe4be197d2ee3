import { test, expect } from 'vitest';
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { startGateway, proxyConfig } from '../../helpers/gateway.js';
import { startWsEcho } from '../../helpers/servers.js';
import { openWs } from '../../helpers/clients.js';
import { stalled } from '../../helpers/ws.js';

// The relay copies every read into a pooled buffer and reuses it once its writes called back
// (src/ws/read-pool.ts). If a buffer were reused while a write still referenced it, some tunnel would
// deliver another tunnel's bytes, or its own later ones: every message here is distinct random bytes,
// sent without waiting, so reads carry several frames and cut others, and writes queue behind writes.
const SIZES = [1, 100, 4096, 65_536, 65_550, 150_000, 700_000];

function collectEchoes(ws: WebSocket, count: number): Promise<Buffer[]> {
  const got: Buffer[] = [];
  return new Promise((resolve, reject) => {
    ws.on('message', (data: Buffer) => {
      got.push(data);
      if (got.length === count) resolve(got);
    });
    ws.once('close', () => reject(new Error(`closed after ${got.length} of ${count} echoes`)));
  });
}

async function tunnels(count: number): Promise<WebSocket[]> {
  const up = await startWsEcho();
  const gw = await startGateway(proxyConfig(up.url, { websocket: { maxMessageBytes: '1mb' } }));
  return Promise.all(Array.from({ length: count }, () => openWs(gw.wsUrl('/ws'), undefined, { perMessageDeflate: false })));
}

// `rounds` × SIZES: about 1 MB a round.
function messages(rounds: number): Buffer[] {
  const out: Buffer[] = [];
  for (let r = 0; r < rounds; r++) for (const size of SIZES) out.push(randomBytes(size));
  return out;
}

test('tunnels relaying at once each get back exactly the messages they sent', async () => {
  const all = await tunnels(8);
  const sent = all.map(() => messages(4));
  const echoes = all.map((ws, i) => collectEchoes(ws, sent[i]!.length));
  all.forEach((ws, i) => sent[i]!.forEach((m) => ws.send(m)));
  const got = await Promise.all(echoes);
  for (let i = 0; i < all.length; i++) {
    expect(got[i]!.length).toBe(sent[i]!.length);
    got[i]!.forEach((echo, k) => expect(echo.equals(sent[i]![k]!), `tunnel ${i}, message ${k}`).toBe(true));
  }
  for (const ws of all) ws.terminate();
});

// More than the kernel's socket buffers hold (a few MB each way), so the gateway's writes toward the
// paused clients are taken only in part and wait, while reads from the other direction go on.
test('clients that stop reading, then read again, get every message intact', async () => {
  const all = await tunnels(4);
  const sockets = all.map((ws) => (ws as unknown as { _socket: Socket })._socket);
  for (const s of sockets) s.pause();
  const sent = all.map(() => messages(12));
  const echoes = all.map((ws, i) => collectEchoes(ws, sent[i]!.length));
  all.forEach((ws, i) => sent[i]!.forEach((m) => ws.send(m)));
  // Backpressure: the gateway's writes toward the paused clients queue until the traffic stops.
  await stalled(() => sockets.reduce((n, s) => n + s.bytesWritten, 0));
  for (const s of sockets) s.resume();
  const got = await Promise.all(echoes);
  for (let i = 0; i < all.length; i++) {
    got[i]!.forEach((echo, k) => expect(echo.equals(sent[i]![k]!), `tunnel ${i}, message ${k}`).toBe(true));
  }
  for (const ws of all) ws.terminate();
});
