// test/helpers/clients: raw HTTP and hand-made WebSocket clients for what `ws` refuses to send, and `ws` clients that wait for what a test expects.
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { expect, onTestFinished } from 'vitest';
import WebSocket from 'ws';
import { handshakeRequest, headersOf, readFrames } from './ws.js';

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  raw: string; // every byte read, as latin1
}

// Sends raw bytes and resolves with the first HTTP answer: its body ends at content-length, or at the
// end of the connection when there is none; a 101 ends with its head. By default it resolves as soon
// as that answer is complete, which also works on keep-alive connections. With `untilClose` it waits
// for the server to close the connection, so `raw` holds every answer it wrote (pipelined requests,
// a HEAD answer's head).
export async function rawHttp(port: number, bytes: string | Buffer, options: { untilClose?: boolean } = {}): Promise<RawAnswer> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  onTestFinished(() => {
    socket.destroy();
  });
  await once(socket, 'connect');
  socket.write(bytes);
  let buf = Buffer.alloc(0);
  return new Promise((resolve, reject) => {
    const tryParse = (atEnd: boolean): boolean => {
      const at = buf.indexOf('\r\n\r\n');
      if (at === -1) return false;
      const head = buf.subarray(0, at).toString('latin1');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
      const headers = headersOf(head);
      const length = headers['content-length'];
      const rest = buf.subarray(at + 4);
      const raw = buf.toString('latin1');
      if (status === 101) {
        resolve({ status, headers, body: '', raw });
        return true;
      }
      // Called at the close only, `untilClose` takes what came (a HEAD answer has a length and no body).
      const complete = options.untilClose === true || (length === undefined ? atEnd : rest.length >= Number(length));
      if (!complete) return false;
      resolve({ status, headers, body: (length === undefined ? rest : rest.subarray(0, Number(length))).toString('utf8'), raw });
      return true;
    };
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (options.untilClose !== true && tryParse(false)) socket.destroy();
    });
    socket.on('close', () => {
      if (!tryParse(true)) reject(new Error(`connection closed before a complete answer: ${JSON.stringify(buf.toString('latin1'))}`));
    });
  });
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

// A client socket after a successful handshake, paused: the test reads frames from `socket` itself
// (nothing is buffered for it), so it can keep it paused or count megabytes without copying them.
// `early` goes in the same write as the handshake (frames a client pipelines before the 101).
export async function rawWsSocket(port: number, path = '/', early: Buffer = Buffer.alloc(0)): Promise<{ socket: Socket; rest: Buffer }> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  onTestFinished(() => {
    socket.destroy();
  });
  await once(socket, 'connect');
  socket.write(Buffer.concat([Buffer.from(handshakeRequest(port, path)), early]));
  let buf = Buffer.alloc(0);
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk]);
      const at = buf.indexOf('\r\n\r\n');
      if (at === -1) return;
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.pause();
      const head = buf.subarray(0, at).toString('latin1');
      if (!head.startsWith('HTTP/1.1 101')) reject(new Error(`handshake failed: ${head}`));
      else resolve({ socket, rest: buf.subarray(at + 4) });
    };
    const onClose = (): void => reject(new Error('closed during handshake'));
    socket.on('data', onData);
    socket.on('close', onClose);
  });
}

// A client that speaks WebSocket by hand: a raw socket after the handshake, with everything it
// receives kept in `received` (small traffic only) and frames the test builds itself.
export interface RawWsClient {
  socket: Socket;
  received: Buffer;
  send(frame: Buffer): void;
  waitFor(predicate: (received: Buffer) => boolean): Promise<Buffer>;
  ended: Promise<void>;
}

export async function rawWsClient(port: number, path = '/'): Promise<RawWsClient> {
  const { socket, rest } = await rawWsSocket(port, path);
  const client: RawWsClient = {
    socket,
    received: rest,
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
  // First listener: `received` is up to date before any waitFor check runs.
  socket.on('data', (chunk: Buffer) => {
    client.received = Buffer.concat([client.received, chunk]);
  });
  socket.resume();
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

// Sends `text` and expects it back; a close that comes first fails the test at once.
export async function expectEcho(ws: WebSocket, text: string): Promise<void> {
  ws.send(text);
  const first = await Promise.race([
    nextMessage(ws).then((m) => m.data.toString()),
    closed(ws).then(({ code, reason }) => `closed with ${code} ${reason}`),
  ]);
  expect(first).toBe(text);
}
