// test/helpers/clients: raw HTTP and hand-made WebSocket clients for the cases `ws` refuses to produce.
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { expect, onTestFinished } from 'vitest';
import WebSocket from 'ws';
import { readFrames } from './ws.js';

// Sends raw bytes and resolves with everything the server wrote until it closed the connection.
export async function rawRequest(port: number, bytes: string | Buffer): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  socket.write(bytes);
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  await once(socket, 'close');
  return Buffer.concat(chunks).toString('latin1');
}

export function statusOf(response: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1] ?? 0);
}

export function jsonBodyOf(response: string): unknown {
  const at = response.indexOf('\r\n\r\n');
  return JSON.parse(response.slice(at + 4));
}

export async function openWs(url: string, protocols?: string | string[], options?: WebSocket.ClientOptions): Promise<WebSocket> {
  const ws = new WebSocket(url, protocols, options);
  onTestFinished(() => ws.terminate());
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`unexpected response ${res.statusCode}`)));
  });
  return ws;
}

export function nextMessage(ws: WebSocket): Promise<{ data: Buffer; isBinary: boolean }> {
  return new Promise((resolve) => ws.once('message', (data: Buffer, isBinary: boolean) => resolve({ data, isBinary })));
}

export function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  if (ws.readyState === WebSocket.CLOSED) throw new Error('already closed');
  return new Promise((resolve) => ws.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })));
}

// A client that speaks WebSocket by hand: handshake, then frames the test builds itself.
export interface RawWsClient {
  socket: Socket;
  head: string;
  received: Buffer;
  send(frame: Buffer): void;
  waitFor(predicate: (received: Buffer) => boolean): Promise<Buffer>;
  ended: Promise<void>;
}

export async function rawWsClient(port: number, path = '/', extraHeaders = ''): Promise<RawWsClient> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  onTestFinished(() => {
    socket.destroy();
  });
  await once(socket, 'connect');
  const key = randomBytes(16).toString('base64');
  socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extraHeaders}\r\n`);
  let buffered = Buffer.alloc(0);
  let headDone = false;
  let head = '';
  const client: RawWsClient = {
    socket,
    head: '',
    received: Buffer.alloc(0),
    send: (frame) => socket.write(frame),
    waitFor: (predicate) =>
      new Promise((resolve, reject) => {
        const check = (): boolean => {
          if (predicate(client.received)) {
            socket.off('data', onData);
            socket.off('close', onClose);
            resolve(client.received);
            return true;
          }
          return false;
        };
        const onData = (): void => void check();
        const onClose = (): void => {
          if (!check()) reject(new Error(`connection closed; received ${client.received.toString('hex')}`));
        };
        if (check()) return;
        socket.on('data', onData);
        socket.on('close', onClose);
      }),
    ended: once(socket, 'close').then(() => undefined),
  };
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      if (headDone) {
        client.received = Buffer.concat([client.received, chunk]);
        return;
      }
      buffered = Buffer.concat([buffered, chunk]);
      const at = buffered.indexOf('\r\n\r\n');
      if (at === -1) return;
      headDone = true;
      head = buffered.subarray(0, at).toString('latin1');
      client.head = head;
      client.received = buffered.subarray(at + 4);
      if (!head.startsWith('HTTP/1.1 101')) reject(new Error(`handshake failed: ${head}`));
      else resolve();
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error('closed during handshake')));
  });
  return client;
}

// Builds one frame; masked frames get a random key (client → server).
export function frame(opcode: number, payload: Buffer | string, options: { fin?: boolean; masked?: boolean; rsv?: number } = {}): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const fin = options.fin ?? true;
  const masked = options.masked ?? true;
  const len = data.length;
  const headLen = 2 + (len > 65535 ? 8 : len > 125 ? 2 : 0) + (masked ? 4 : 0);
  const out = Buffer.alloc(headLen + len);
  out[0] = (fin ? 0x80 : 0) | ((options.rsv ?? 0) << 4) | opcode;
  let at = 2;
  if (len > 65535) {
    out[1] = 127;
    out.writeBigUInt64BE(BigInt(len), 2);
    at = 10;
  } else if (len > 125) {
    out[1] = 126;
    out.writeUInt16BE(len, 2);
    at = 4;
  } else out[1] = len;
  if (masked) {
    out[1] |= 0x80;
    const mask = randomBytes(4);
    mask.copy(out, at);
    at += 4;
    for (let i = 0; i < len; i++) out[at + i] = data[i]! ^ mask[i & 3]!;
  } else data.copy(out, at);
  return out;
}

// Complete frames in a buffer (server → client): opcode, FIN and payload.
export function parseFrames(buf: Buffer): { opcode: number; fin: boolean; payload: Buffer }[] {
  return readFrames(buf).frames;
}

export function closeFrameOf(buf: Buffer): { code: number; reason: string } | null {
  const f = parseFrames(buf).find((x) => x.opcode === 0x8);
  if (f === undefined) return null;
  return { code: f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005, reason: f.payload.subarray(2).toString() };
}

// Sends `text` and expects it back; a close that comes first fails the test at once.
export async function expectEcho(ws: WebSocket, text: string): Promise<void> {
  ws.send(text);
  const first = await Promise.race([
    nextMessage(ws).then((m) => m.data.toString()),
    closed(ws).then(({ code, reason }) => `closed with ${code} ${reason}`),
  ]);
  expect(first).toBe(text);
}
