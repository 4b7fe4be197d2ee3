import { test, expect, vi, onTestFinished } from 'vitest';
import { once } from 'node:events';
import type { WebSocket } from 'ws';
import { startGateway, proxyConfig, type TestGateway } from '../../helpers/gateway.js';
import { recordingEcho } from '../../helpers/servers.js';
import { openWs, nextMessage, closed } from '../../helpers/clients.js';

// Only Date is faked: sockets and the gateway's clock timer run for real.
function fakeDateOnly(): void {
  vi.useFakeTimers({ toFake: ['Date'] });
  onTestFinished(() => {
    vi.useRealTimers();
  });
}

async function rateLimited(): Promise<{ ws: WebSocket; upstreamWs: WebSocket; received: string[]; gw: TestGateway }> {
  const up = await recordingEcho();
  const gw = await startGateway(proxyConfig(up.url, { websocket: { rateLimit: { messages: 5, per: '1s', burst: 5 } } }));
  const ws = await openWs(gw.wsUrl('/ws'), undefined, { perMessageDeflate: false });
  return { ws, upstreamWs: up.upstream(), received: up.messages, gw };
}

test('a client that sends 50 messages at once is closed with 1008 "message rate limit exceeded"', async () => {
  const { ws, upstreamWs, received, gw } = await rateLimited();
  const upstreamClosed = once(upstreamWs, 'close');
  const done = closed(ws);
  // The bucket is judged per message, before its first byte crosses: the burst of 5 goes through
  // (plus at most one token refilled while the 50 are sent), nothing after the first refusal does.
  for (let i = 0; i < 50; i++) ws.send(`m${i}:`.padEnd(2048, '.'));
  expect(await done).toEqual({ code: 1008, reason: 'message rate limit exceeded' });
  const [code, reason] = (await upstreamClosed) as [number, Buffer];
  expect({ code, reason: reason.toString() }).toEqual({ code: 1008, reason: 'message rate limit exceeded' });
  // What crossed is the first messages in order: the burst.
  expect(received.length).toBeGreaterThanOrEqual(5);
  expect(received.length).toBeLessThanOrEqual(6);
  expect(received.map((m) => m.slice(0, m.indexOf(':')))).toEqual(Array.from({ length: received.length }, (_, i) => `m${i}`));
  const log = await gw.waitForLog((l) => l.event === 'ws_close');
  expect(log).toMatchObject({ code: 1008, reason: 'message rate limit exceeded', initiator: 'gateway', error: 'WS_RATE_LIMITED' });
});

test('a client within its burst keeps its connection', async () => {
  const { ws, received, gw } = await rateLimited();
  let closes = 0;
  ws.on('close', () => closes++);
  const echoes: string[] = [];
  const all = new Promise<void>((resolve, reject) => {
    ws.on('message', (data: Buffer) => {
      echoes.push(data.toString());
      if (echoes.length === 5) resolve();
    });
    ws.once('close', (code: number, reason: Buffer) => reject(new Error(`closed with ${code} "${reason.toString()}"`)));
  });
  for (let i = 0; i < 5; i++) ws.send(`m${i}`);
  await all;
  expect(echoes).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
  expect(received).toEqual(echoes);
  // Our close would have been written before any echo came back: none came.
  expect(ws.readyState).toBe(ws.OPEN);
  expect(closes).toBe(0);
  expect(gw.logs.some((l) => l.event === 'ws_close')).toBe(false);
});

test('a client sending at the allowed rate with a small burst is never limited', async () => {
  // Only Date is faked: sockets and the gateway's clock timer run for real, but no real time has to
  // pass for the rate to be met, and none that passes can make this test fail.
  fakeDateOnly();
  const { url, messages: received } = await recordingEcho();
  // 4 messages a second, one at a time, within 5 a second; no short timer on the route, so the
  // gateway's shared clock ticks only once a second.
  const gw = await startGateway(proxyConfig(url, { websocket: { rateLimit: { messages: 5, per: '1s', burst: 1 } } }));
  const ws = await openWs(gw.wsUrl('/ws'));
  let closes = 0;
  ws.on('close', () => closes++);
  const ended = closed(ws).then(({ code, reason }) => `closed with ${code} "${reason}"`);
  for (let i = 0; i < 10; i++) {
    const echo = nextMessage(ws).then(({ data }) => data.toString());
    ws.send(`m${i}`);
    expect(await Promise.race([echo, ended])).toBe(`m${i}`);
    vi.advanceTimersByTime(250);
  }
  expect(received).toHaveLength(10);
  expect(closes).toBe(0);
  expect(gw.logs.some((l) => l.event === 'ws_close')).toBe(false);
});

test('a client sending one message at a time, but faster than the rate, is limited on the first overdraft', async () => {
  fakeDateOnly();
  const { url, messages: received } = await recordingEcho();
  const gw = await startGateway(proxyConfig(url, { websocket: { rateLimit: { messages: 5, per: '1s', burst: 2 } } }));
  const ws = await openWs(gw.wsUrl('/ws'));
  const ended = closed(ws);
  // 10 a second: the burst of 2 covers the first three (2 + the half refilled twice), not the fourth.
  for (let i = 0; i < 3; i++) {
    const echo = nextMessage(ws);
    ws.send(`m${i}`);
    expect((await echo).data.toString()).toBe(`m${i}`);
    vi.advanceTimersByTime(100);
  }
  ws.send('m3');
  expect(await ended).toEqual({ code: 1008, reason: 'message rate limit exceeded' });
  // The message over the limit stays behind: the upstream never sees m3.
  expect(await gw.waitForLog((l) => l.event === 'ws_close')).toMatchObject({ code: 1008, initiator: 'gateway', error: 'WS_RATE_LIMITED', messagesIn: 3 });
  expect(received).toEqual(['m0', 'm1', 'm2']);
});
