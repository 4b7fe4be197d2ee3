import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { onTestFinished, test, expect } from 'vitest';
import WebSocket from 'ws';
import { configSchema } from '../../../src/config/schema.js';
import { demoConfig } from '../../../src/demo/config.js';
import { DEMO_PAGE_HTML } from '../../../src/demo/page.js';
import { startDemoUpstreams, type DemoUpstreams } from '../../../src/demo/upstreams.js';

async function upstreams(): Promise<DemoUpstreams> {
  const up = await startDemoUpstreams();
  onTestFinished(() => up.close());
  return up;
}

interface Client {
  readonly ws: WebSocket;
  /** The next message, including any that arrived before it was asked for (e.g. with the 101). */
  readonly next: () => Promise<{ data: Buffer; isBinary: boolean }>;
  readonly nextJson: () => Promise<unknown>;
}

async function openWs(url: string): Promise<Client> {
  const ws = new WebSocket(url);
  onTestFinished(() => {
    if (ws.readyState !== WebSocket.CLOSED) ws.terminate();
  });
  const queued: { data: Buffer; isBinary: boolean }[] = [];
  const waiting: ((message: { data: Buffer; isBinary: boolean }) => void)[] = [];
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    const message = { data, isBinary };
    const waiter = waiting.shift();
    if (waiter) waiter(message);
    else queued.push(message);
  });
  const next = (): Promise<{ data: Buffer; isBinary: boolean }> => {
    const message = queued.shift();
    return message ? Promise.resolve(message) : new Promise((resolve) => waiting.push(resolve));
  };
  await once(ws, 'open');
  return { ws, next, nextJson: async () => JSON.parse((await next()).data.toString()) as unknown };
}

function wsBase(up: DemoUpstreams): string {
  return up.wsUrl.replace(/^http/, 'ws');
}

test('GET /hello and /time answer JSON', async () => {
  const up = await upstreams();
  const hello = await fetch(`${up.httpUrl}/hello`);
  expect(hello.status).toBe(200);
  expect(hello.headers.get('content-type')).toBe('application/json');
  expect(await hello.json()).toEqual({ message: 'hello from the demo api' });
  const time = (await (await fetch(`${up.httpUrl}/time`)).json()) as { now: string };
  expect(new Date(time.now).toISOString()).toBe(time.now);
});

test('POST /echo streams the body back with its content type', async () => {
  const up = await upstreams();
  const body = JSON.stringify({ text: 'héllo', n: [1, 2, 3] });
  const res = await fetch(`${up.httpUrl}/echo`, {
    method: 'POST',
    headers: { 'content-type': 'application/json; charset=utf-8' },
    body,
  });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
  expect(await res.text()).toBe(body);
});

test('GET /headers shows the request headers it received', async () => {
  const up = await upstreams();
  const res = await fetch(`${up.httpUrl}/headers`, {
    headers: { 'x-forwarded-for': '203.0.113.7', 'x-request-id': 'abc-123' },
  });
  expect(await res.json()).toMatchObject({ 'x-forwarded-for': '203.0.113.7', 'x-request-id': 'abc-123' });
});

test('unknown paths and methods get a 404 JSON error', async () => {
  const up = await upstreams();
  for (const [method, path] of [['GET', '/nope'], ['POST', '/hello'], ['GET', '/echo']] as const) {
    const res = await fetch(`${up.httpUrl}${path}`, { method });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
  }
});

test('/ws/echo echoes text as text and binary as binary', async () => {
  const up = await upstreams();
  const { ws, next } = await openWs(`${wsBase(up)}/ws/echo`);
  ws.send('hello');
  const text = await next();
  expect(text.isBinary).toBe(false);
  expect(text.data.toString()).toBe('hello');
  ws.send(Buffer.from([0, 1, 2, 255]));
  const binary = await next();
  expect(binary.isBinary).toBe(true);
  expect(binary.data).toEqual(Buffer.from([0, 1, 2, 255]));
});

test('/ws/echo handles 16-bit and 64-bit payload lengths', async () => {
  const up = await upstreams();
  const { ws, next } = await openWs(`${wsBase(up)}/ws/echo`);
  for (const size of [125, 126, 65_535, 70_000]) {
    const payload = Buffer.alloc(size, 0);
    for (let i = 0; i < size; i++) payload[i] = (i * 31) & 0xff;
    ws.send(payload);
    const echoed = await next();
    expect(echoed.isBinary).toBe(true);
    expect(echoed.data.length).toBe(size);
    expect(echoed.data.equals(payload)).toBe(true);
  }
});

test('/ws/echo reassembles a fragmented message', async () => {
  const up = await upstreams();
  const { ws, next } = await openWs(`${wsBase(up)}/ws/echo`);
  ws.send('frag', { fin: false });
  ws.send('men', { fin: false });
  ws.send('ted', { fin: true });
  const text = await next();
  expect(text.isBinary).toBe(false);
  expect(text.data.toString()).toBe('fragmented');
  ws.send(Buffer.from([1, 2]), { fin: false, binary: true });
  ws.send(Buffer.from([3]), { fin: true, binary: true });
  const binary = await next();
  expect(binary.isBinary).toBe(true);
  expect(binary.data).toEqual(Buffer.from([1, 2, 3]));
});

test('/ws/echo answers a ping with a pong carrying the same payload', async () => {
  const up = await upstreams();
  const { ws } = await openWs(`${wsBase(up)}/ws/echo`);
  ws.ping('are you there');
  const [payload] = (await once(ws, 'pong')) as [Buffer];
  expect(payload.toString()).toBe('are you there');
});

test('/ws/chat broadcasts messages, joins and leaves to every member', async () => {
  const up = await upstreams();
  const alice = await openWs(`${wsBase(up)}/ws/chat?nick=alice`);
  expect(await alice.nextJson()).toEqual({ type: 'join', nick: 'alice', members: 1 });

  const bobJoined = alice.nextJson();
  const bob = await openWs(`${wsBase(up)}/ws/chat?nick=bob`);
  expect(await bob.nextJson()).toEqual({ type: 'join', nick: 'bob', members: 2 });
  expect(await bobJoined).toEqual({ type: 'join', nick: 'bob', members: 2 });

  const toAlice = alice.nextJson();
  const toBob = bob.nextJson();
  bob.ws.send('hi alice');
  for (const received of [await toAlice, await toBob]) {
    expect(received).toMatchObject({ type: 'message', from: 'bob', text: 'hi alice' });
    const at = (received as { at: string }).at;
    expect(new Date(at).toISOString()).toBe(at);
  }

  const bobLeft = alice.nextJson();
  bob.ws.close(1000);
  expect(await bobLeft).toEqual({ type: 'leave', nick: 'bob', members: 1 });
});

test('/ws/chat names a member without a nick guest-N', async () => {
  const up = await upstreams();
  const ws = await openWs(`${wsBase(up)}/ws/chat`);
  expect(await ws.nextJson()).toEqual({ type: 'join', nick: 'guest-1', members: 1 });
});

test('a client close with 1000 completes the closing handshake with 1000', async () => {
  const up = await upstreams();
  const { ws } = await openWs(`${wsBase(up)}/ws/echo`);
  ws.close(1000, 'bye');
  const [code, reason] = (await once(ws, 'close')) as [number, Buffer];
  expect(code).toBe(1000);
  expect(reason.toString()).toBe('bye');
});

test('close() sends 1001 to open WebSockets and stops the server', async () => {
  const up = await startDemoUpstreams();
  const { ws } = await openWs(`${wsBase(up)}/ws/echo`);
  const closed = once(ws, 'close');
  await up.close();
  expect((await closed)[0]).toBe(1001);
});

test('a WebSocket handshake on an unknown path gets 404', async () => {
  const up = await upstreams();
  const ws = new WebSocket(`${wsBase(up)}/ws/nope`);
  const [, res] = (await once(ws, 'unexpected-response')) as [unknown, { statusCode: number; destroy(): void }];
  expect(res.statusCode).toBe(404);
  res.destroy();
});

function rawHandshake(up: DemoUpstreams, path: string, version: string, extraHeaders = ''): Socket {
  const socket = connect(Number(new URL(up.httpUrl).port), '127.0.0.1');
  onTestFinished(() => {
    socket.destroy();
  });
  // The key is RFC 6455 §1.3's sample, so the expected accept value is known.
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: demo\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
      `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: ${version}\r\n${extraHeaders}\r\n`,
  );
  return socket;
}

async function readUntilEnd(socket: Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  await once(socket, 'end');
  return Buffer.concat(chunks);
}

test('a handshake with the wrong version gets 426 with Sec-WebSocket-Version: 13', async () => {
  const up = await upstreams();
  const reply = (await readUntilEnd(rawHandshake(up, '/ws/echo', '8'))).toString('latin1');
  expect(reply).toMatch(/^HTTP\/1\.1 426 /);
  expect(reply).toContain('Sec-WebSocket-Version: 13');
});

test('an unmasked client frame is closed with 1002', async () => {
  const up = await upstreams();
  const socket = rawHandshake(up, '/ws/echo', '13');
  socket.write(Buffer.from([0x81, 0x02, 0x68, 0x69])); // "hi", not masked
  const reply = await readUntilEnd(socket);
  const headEnd = reply.indexOf('\r\n\r\n') + 4;
  expect(reply.subarray(0, headEnd).toString()).toContain('Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  const frame = reply.subarray(headEnd);
  expect(frame[0]).toBe(0x88);
  expect(frame.readUInt16BE(2)).toBe(1002);
});

async function readHead(socket: Socket): Promise<string> {
  let received = '';
  for await (const chunk of socket as AsyncIterable<Buffer>) {
    received += chunk.toString('latin1');
    const end = received.indexOf('\r\n\r\n');
    if (end !== -1) return received.slice(0, end);
  }
  return received;
}

test('a handshake with a malformed key gets 400 with a JSON error', async () => {
  const up = await upstreams();
  const socket = connect(Number(new URL(up.httpUrl).port), '127.0.0.1');
  onTestFinished(() => {
    socket.destroy();
  });
  socket.write(
    'GET /ws/echo HTTP/1.1\r\nHost: demo\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
      'Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  const reply = (await readUntilEnd(socket)).toString();
  expect(reply).toMatch(/^HTTP\/1\.1 400 /);
  expect(reply).toContain('Content-Type: application/json');
  expect(JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4))).toMatchObject({ error: { code: 'BAD_HANDSHAKE' } });
});

test('a requested subprotocol or extension is not taken', async () => {
  const up = await upstreams();
  const socket = rawHandshake(
    up,
    '/ws/echo',
    '13',
    'Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Extensions: permessage-deflate\r\n',
  );
  const head = await readHead(socket);
  expect(head).toMatch(/^HTTP\/1\.1 101 /);
  expect(head).toContain('Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  expect(head).not.toMatch(/sec-websocket-(protocol|extensions)/i);
});

function maskedFrame(first: number, payload: Buffer): Buffer {
  const mask = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  const masked = Buffer.from(payload.map((byte, i) => byte ^ (mask[i & 3] as number)));
  return Buffer.concat([Buffer.from([first, 0x80 | payload.length]), mask, masked]);
}

async function closeFrameCode(socket: Socket): Promise<number> {
  const reply = await readUntilEnd(socket);
  const frame = reply.subarray(reply.indexOf('\r\n\r\n') + 4);
  expect(frame[0]).toBe(0x88);
  return frame.readUInt16BE(2);
}

test('a text message that is not UTF-8 is closed with 1007', async () => {
  const up = await upstreams();
  const socket = rawHandshake(up, '/ws/echo', '13');
  socket.write(maskedFrame(0x81, Buffer.from([0xc3, 0x28])));
  expect(await closeFrameCode(socket)).toBe(1007);
});

test('a message over 16 MiB is closed with 1009 as soon as its header arrives', async () => {
  const up = await upstreams();
  const socket = rawHandshake(up, '/ws/echo', '13');
  const header = Buffer.alloc(14);
  header[0] = 0x82;
  header[1] = 0x80 | 127;
  header.writeUInt32BE(16 * 1024 * 1024 + 1, 6); // 64-bit length, high word 0
  socket.write(header); // the mask follows; no payload is ever sent
  expect(await closeFrameCode(socket)).toBe(1009);
});

test('/ws/chat ignores binary messages, cuts long text and strips control characters from nicks', async () => {
  const up = await upstreams();
  const member = await openWs(`${wsBase(up)}/ws/chat?nick=${encodeURIComponent('\u0007ev\u001bil ')}`);
  expect(await member.nextJson()).toEqual({ type: 'join', nick: 'evil', members: 1 });
  member.ws.send(Buffer.from('binary'));
  member.ws.send('x'.repeat(2_500));
  expect(await member.nextJson()).toMatchObject({ type: 'message', from: 'evil', text: 'x'.repeat(2_000) });
});

test('demoConfig passes the config schema and serves the page at /', () => {
  const config = configSchema.parse(demoConfig({ httpUrl: 'http://127.0.0.1:1', wsUrl: 'http://127.0.0.1:2' }, 18080));
  expect(config.listen).toEqual([{ port: 18080, host: '0.0.0.0' }]);
  expect(Object.keys(config.upstreams).sort()).toEqual(['api', 'realtime']);
  expect(config.routes.map((r) => r.name)).toEqual(['ping', 'api', 'ws', 'page']);
  expect(config.routes.find((r) => r.name === 'page')?.respond?.body).toBe(DEMO_PAGE_HTML);
  expect(DEMO_PAGE_HTML).toContain('<title>wsgate demo</title>');
  expect(DEMO_PAGE_HTML).not.toMatch(/(src|href)="https?:\/\/(?!127\.0\.0\.1:9901)/);
});
